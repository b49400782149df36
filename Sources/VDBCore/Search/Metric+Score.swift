extension Metric {
    /// A score where higher is always closer, for a distance as this metric reports it: the
    /// distance itself for `ip` and `cosine` (larger is closer), its negation for `l2` (squared
    /// Euclidean, smaller is closer). Used where results of different metrics are shown or
    /// thresholded the same way (the HTTP API's `score`).
    public func score(distance: Float) -> Float { largerIsCloser ? distance : -distance }
}
