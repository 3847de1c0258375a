using System.ComponentModel.DataAnnotations;

namespace FlowService.Api.Hosting;

/// <summary>
/// Where flows train and score, bound from <c>FlowService:Compute</c> (environment: <c>FlowService__Compute__Device</c>):
/// <c>cpu</c> (the default), <c>cuda</c> / <c>cuda:N</c> (that GPU, or the start fails saying why) or <c>auto</c> (CUDA
/// when it is usable, else the CPU with a logged warning). See docs/GPU.md.
/// </summary>
public sealed class ComputeOptions
{
    public const string Section = "FlowService:Compute";

    [Required(AllowEmptyStrings = false, ErrorMessage = "FlowService:Compute:Device must be cpu, cuda, cuda:N or auto.")]
    [RegularExpression("(?i)^\\s*(cpu|auto|cuda|cuda:[0-9]{1,3})\\s*$", ErrorMessage = "FlowService:Compute:Device must be cpu, cuda, cuda:N or auto.")]
    public string Device { get; set; } = "cpu";
}
