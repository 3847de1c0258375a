namespace FlowService.Model.Transforms.Images;

/// <summary>
/// Which entries of an image an <see cref="ImageCoupling"/> keeps (Dinh et al. 2017, section 3.4):
/// a checkerboard of pixels ((h + w) even kept, or odd when flipped, all channels), or a channel
/// split (the first ⌊C/2⌋ channels kept, or the rest when flipped).
/// </summary>
public enum CouplingMask
{
    Checkerboard,
    Channel,
}
