/// Preprocessed image input for the CLIP vision tower: channels-first (CHW) float32 pixels,
/// 3 channels, already rescaled and normalized, row-major within each channel.
///
/// `data.count == 3 * height * width`; element `(c, y, x)` is at `data[(c * height + y) * width + x]`.
public struct PixelTensor: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var data: [Float]

    public init(width: Int, height: Int, data: [Float]) {
        self.width = width
        self.height = height
        self.data = data
    }
}
