/// A preprocessed image ready for the vision tower: channels-first (CHW) float32, already
/// resized/cropped to the model's input size and normalized with the checkpoint's mean/std.
///
/// `data.count == 3 * height * width`; `data[c * height * width + y * width + x]` is channel `c`
/// (R, G, B) of pixel (x, y). This is exactly the layout of one item of `pixel_values` in
/// Hugging Face's `CLIPImageProcessor` output.
public struct PixelTensor: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// CHW, normalized float32 values.
    public var data: [Float]

    public init(width: Int, height: Int, data: [Float]) {
        self.width = width
        self.height = height
        self.data = data
    }
}
