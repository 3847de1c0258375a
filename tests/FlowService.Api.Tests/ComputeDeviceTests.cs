using System.Net;
using FlowService.Api.Tests.Observability;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Training.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace FlowService.Api.Tests;

/// <summary>
/// FlowService:Compute:Device at start: cpu trains and scores on the CPU backend; cuda without a usable GPU stops
/// the start with the reason; auto falls back to the CPU and says so in a warning; anything else is a start error.
/// The cases that need CUDA to be absent skip, with the reason, on a machine where it is usable.
/// </summary>
public sealed class ComputeDeviceTests
{
    [Fact]
    public async Task Cpu_device_gives_the_engines_the_cpu_backend_and_logs_the_choice()
    {
        await using var factory = new ObservabilityFactory(new Dictionary<string, string> { ["FlowService:Compute:Device"] = "cpu" });
        using var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        var engine = Assert.IsType<NormalizingFlowEngine>(factory.Services.GetRequiredService<IFlowEngine>());
        Assert.Same(CpuBackend.Instance, engine.Backend);
        Assert.Same(engine.Backend, factory.Services.GetRequiredService<IBackend>());
        var choice = Assert.Single(factory.Logs.Events, e => CapturingSink.Scalar(e, "SourceContext") == "FlowService.Compute");
        Assert.Equal(LogEventLevel.Information, choice.Level);
        Assert.Equal("Compute backend: cpu (configured)", CapturingSink.Scalar(choice, "ComputeBackend"));
    }

    [Fact]
    public void The_start_up_flow_probe_passes_on_the_cpu()
    {
        // The probe every non-CPU backend must pass before it is used (a one-row log p of a small RealNVP).
        Assert.Null(FlowService.Api.Hosting.ComputeBackendFactory.RunsFlows(CpuBackend.Instance));
    }

    [WithoutCudaFact]
    public async Task Cuda_without_a_usable_gpu_stops_the_start_saying_why()
    {
        foreach (var device in new[] { "cuda", "cuda:1" })
        {
            await using var factory = new ObservabilityFactory(new Dictionary<string, string> { ["FlowService:Compute:Device"] = device });

            var error = Record.Exception(() => factory.CreateClient());

            var e = Assert.IsType<InvalidOperationException>(error is AggregateException a ? a.InnerException : error);
            Assert.Contains($"Device '{device}' was requested but CUDA is not usable here", e.Message);
            Assert.Contains("'auto' to fall back", e.Message);
        }
    }

    [WithoutCudaFact]
    public async Task Auto_without_a_usable_gpu_falls_back_to_the_cpu_with_a_warning()
    {
        await using var factory = new ObservabilityFactory(new Dictionary<string, string> { ["FlowService:Compute:Device"] = "auto" });
        using var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        Assert.Same(CpuBackend.Instance, factory.Services.GetRequiredService<IBackend>());
        var fallback = Assert.Single(factory.Logs.Events, e => CapturingSink.Scalar(e, "SourceContext") == "FlowService.Compute");
        Assert.Equal(LogEventLevel.Warning, fallback.Level);
        Assert.StartsWith("Compute backend: cpu (chosen by 'auto': CUDA is not usable here:", CapturingSink.Scalar(fallback, "ComputeBackend"));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("")]
    public async Task An_unknown_device_stops_the_start_naming_the_setting(string device)
    {
        await using var factory = new ObservabilityFactory(new Dictionary<string, string> { ["FlowService:Compute:Device"] = device });

        var error = Record.Exception(() => factory.CreateClient());

        var e = Assert.IsType<OptionsValidationException>(error is AggregateException a ? a.InnerException : error);
        Assert.Contains("FlowService:Compute:Device", e.Message + string.Join(' ', e.Failures));
    }
}
