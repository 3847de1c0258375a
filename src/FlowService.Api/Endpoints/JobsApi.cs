using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowService.Api.Contracts;
using FlowService.Api.Hosting;
using FlowService.Model.Targets;
using FlowService.Api.Security;
using FlowService.Training.Datasets;
using FlowService.Training.Images;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Endpoints;

/// <summary>POST/GET /jobs, cancellation and a server-sent event stream of a job's progress.</summary>
public static partial class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        // Readers watch jobs; trainers queue and cancel them.
        var read = app.MapGroup("/jobs").WithTags("Jobs").RequireAuthorization(ApiPolicies.Reader);
        var train = app.MapGroup("/jobs").WithTags("Jobs").RequireAuthorization(ApiPolicies.Trainer);
        train.MapPost("/", Create)
            .RequireRateLimiting(RateLimits.Jobs)
            .Accepts<CreateJobRequest>("application/json")
            .WithSummary("Queue a training job; 202 with Location /jobs/{id}.")
            .WithNamedRequestExample("application/json", "fit to a dataset", ApiExamples.CreateJob)
            .WithNamedRequestExample("application/json", "fit to a built-in target (reverse KL)", ApiExamples.CreateTargetJob)
            .WithNamedRequestExample("application/json", "fit to an expression (reverse KL)", ApiExamples.CreateExpressionJob)
            .WithResponseExample(StatusCodes.Status202Accepted, ApiExamples.Job);
        read.MapGet("/", List).WithSummary("List jobs, newest first (optionally ?state=running).");
        read.MapGet("/{id}", Get).WithSummary("A job's state and progress: epoch, per-epoch train/validation NLL, samples/s, elapsed, ETA, error, produced version.")
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.Job);
        train.MapPost("/{id}/cancel", Cancel).WithSummary("Cancel a queued job at once, or ask its worker to stop a running one.");
        read.MapGet("/{id}/events", Events).WithSummary("Server-sent events: one 'progress' event per change, a final 'end' event.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        return app;
    }

    static async Task<Results<AcceptedAtRoute<JobResponse>, Accepted<JobResponse>, ProblemHttpResult>> Create(
        HttpRequest request, IJobStore jobs, IDatasetStore datasets, FlowEngineCatalog engines, IOptions<JsonOptions> json, IOptions<DatasetLimits> limits,
        AuthenticationState auth, IOptions<RateLimitOptions> rateLimits, CancellationToken cancellationToken)
    {
        CreateJobRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<CreateJobRequest>(request.Body, json.Value.SerializerOptions, cancellationToken);
        }
        catch (JsonException e)
        {
            return Problems.BadRequest($"The body is not a valid job request: {e.Message}", field: e.Path ?? "$");
        }
        if (body is null)
            return Problems.BadRequest("The body is empty; send {\"datasetId\": ..., \"model\": ...}.", field: "$");
        if (body.Target is { ValueKind: not JsonValueKind.Null } target)
            return await CreateTargetFit(body, target, jobs, engines, cancellationToken);
        if (string.IsNullOrWhiteSpace(body.DatasetId))
            return Problems.BadRequest("'datasetId' is required.", field: "datasetId");
        if (string.IsNullOrWhiteSpace(body.Model) || !ModelNamePattern().IsMatch(body.Model))
            return Problems.BadRequest("'model' is required: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.", field: "model");
        var training = body.Training ?? new TrainingParameters();
        if (training.FindError() is { } error)
            return Problems.BadRequest($"'{error.Field}' {error.Message}.", field: error.Field);
        var dataset = await datasets.GetAsync(body.DatasetId, cancellationToken);
        if (dataset is null)
            return Problems.NotFound($"No dataset has id '{body.DatasetId}'.", field: "datasetId");

        var context = body.ContextColumns ?? [];
        for (int i = 0; i < context.Length; i++)
            if (!dataset.Columns.Contains(context[i]))
                return Problems.BadRequest($"Context column '{context[i]}' is not a column of dataset '{dataset.Name}' ({string.Join(", ", dataset.Columns)}).", field: $"contextColumns[{i}]");
        if (context.Distinct().Count() != context.Length)
            return Problems.BadRequest("'contextColumns' names a column twice.", field: "contextColumns");
        if (context.Length >= dataset.Columns.Count)
            return Problems.BadRequest("Every column is a context column; at least one must be modelled.", field: "contextColumns");

        var flow = body.Flow ?? FlowEngineCatalog.DefaultSpec;
        if (dataset.Image is { } image)
            flow = ImageFlowSpec.ForDataset(flow, image);
        if (engines.Validate(flow, dataset.Columns.Count - context.Length, context.Length) is { } flowError)
            return Problems.BadRequest(flowError.Message, field: flowError.Field);
        if (engines.Estimate(flow, dataset.Columns.Count - context.Length, context.Length) is { } size
            && TrainingBudget.Check(size, training.BatchSize, limits.Value) is { } budgetError)
            return Problems.BadRequest(budgetError.Message, field: budgetError.Field);

        string? owner = RateLimits.Caller(request.HttpContext, auth);
        int quota = rateLimits.Value.QueuedJobsPerKey;
        if (owner is not null && quota > 0)
        {
            // A soft quota: two submissions racing may both pass; the hourly rate limit bounds what that can add.
            var queued = await jobs.ListAsync(JobState.Queued, 10_000, cancellationToken);
            if (queued.Count(j => j.Request.Owner == owner) >= quota)
            {
                request.HttpContext.Response.Headers.RetryAfter = "60";
                return Problems.Create(StatusCodes.Status429TooManyRequests, "Too many queued jobs.",
                    $"This credential already has {quota} jobs queued (FlowService:RateLimits:QueuedJobsPerKey); wait for one to start or cancel one.");
            }
        }
        var job = await jobs.EnqueueAsync(new JobRequest(dataset.Id, body.Model, flow, training, context, Owner: owner), cancellationToken);
        return TypedResults.Accepted($"/jobs/{job.Id}", JobResponse.From(job));
    }

    /// <summary>A reverse-KL job: a target instead of a dataset; the target is compiled here so that every mistake is a 400 before anything is queued.</summary>
    static async Task<Results<AcceptedAtRoute<JobResponse>, Accepted<JobResponse>, ProblemHttpResult>> CreateTargetFit(
        CreateJobRequest body, JsonElement target, IJobStore jobs, FlowEngineCatalog engines, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(body.DatasetId))
            return Problems.BadRequest("A job fits either a dataset ('datasetId') or a target density ('target', by reverse KL), not both.", field: "target");
        if (body.ContextColumns is { Length: > 0 })
            return Problems.BadRequest("A target fit has no context columns (the flow is unconditional).", field: "contextColumns");
        if (string.IsNullOrWhiteSpace(body.Model) || !ModelNamePattern().IsMatch(body.Model))
            return Problems.BadRequest("'model' is required: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.", field: "model");
        var training = body.Training ?? new TrainingParameters();
        if (training.FindError() is { } error)
            return Problems.BadRequest($"'{error.Field}' {error.Message}.", field: error.Field);
        TargetSpec spec;
        try
        {
            spec = TargetSpec.From(target);
        }
        catch (TargetSpecException e)
        {
            string field = e.Field.Length == 0 ? "target" : $"target.{e.Field}";
            return e.Position is { } position ? Problems.BadRequestAt(e.Message, field, position) : Problems.BadRequest(e.Message, field: field);
        }
        var flow = body.Flow ?? DefaultTargetFlow;
        if (engines.Validate(flow, spec.Density.Dimensions, 0) is { } flowError)
            return Problems.BadRequest(flowError.Message, field: flowError.Field == "datasetId" ? "target.dimensions" : flowError.Field);
        if (engines.Find(flow) is not IReverseKlEngine)
            return Problems.BadRequest("This flow type cannot be fitted to a target in this service.", field: "flow.type");
        var job = await jobs.EnqueueAsync(new JobRequest("", body.Model, flow, training, [], target.Clone()), cancellationToken);
        return TypedResults.Accepted($"/jobs/{job.Id}", JobResponse.From(job));
    }

    /// <summary>The flow a target fit trains when the request names none: RealNVP's defaults, sampled and trained through its cheap direction.</summary>
    static readonly JsonElement DefaultTargetFlow = JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone();

    static async Task<Results<Ok<JobResponse[]>, ProblemHttpResult>> List(string? state, IJobStore jobs, CancellationToken cancellationToken, int limit = 100)
    {
        JobState? filter = null;
        if (state is not null)
        {
            if (!Enum.TryParse<JobState>(state, ignoreCase: true, out var parsed) || int.TryParse(state, out _))
                return Problems.BadRequest($"Unknown state '{state}'; use queued, running, succeeded, failed or cancelled.", field: "state");
            filter = parsed;
        }
        if (limit is < 1 or > 1000)
            return Problems.BadRequest("'limit' must be between 1 and 1000.", field: "limit");
        var list = await jobs.ListAsync(filter, limit, cancellationToken);
        return TypedResults.Ok(list.Select(JobResponse.From).ToArray());
    }

    static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> Get(string id, IJobStore jobs, IModelRegistry registry, CancellationToken cancellationToken)
    {
        if (await jobs.GetAsync(id, cancellationToken) is not { } job)
            return Problems.NotFound($"No job has id '{id}'.");
        var version = job.ModelVersion is not null ? await registry.FindByJobAsync(job.Id, cancellationToken) : null;
        return TypedResults.Ok(JobResponse.From(job, version?.Metrics.Warnings));
    }

    static async Task<Results<Ok<JobResponse>, Accepted<JobResponse>, ProblemHttpResult>> Cancel(string id, IJobStore jobs, CancellationToken cancellationToken)
    {
        var before = await jobs.GetAsync(id, cancellationToken);
        if (before is null)
            return Problems.NotFound($"No job has id '{id}'.");
        if (before.IsFinished)
            return Problems.Conflict($"Job '{id}' already ended as {before.State.ToString().ToLowerInvariant()}.");
        var job = (await jobs.RequestCancelAsync(id, cancellationToken))!;
        return job.State == JobState.Cancelled
            ? TypedResults.Ok(JobResponse.From(job))
            : TypedResults.Accepted($"/jobs/{id}", JobResponse.From(job));
    }

    static async Task<Results<ServerSentEventsResult<JobResponse>, ProblemHttpResult>> Events(string id, IJobStore jobs, CancellationToken cancellationToken)
    {
        var job = await jobs.GetAsync(id, cancellationToken);
        if (job is null)
            return Problems.NotFound($"No job has id '{id}'.");
        return TypedResults.ServerSentEvents(Stream(job, jobs, cancellationToken));
    }

    /// <summary>Polls the store (so it works whichever process trains the job) and emits an event whenever the job changes.</summary>
    static async IAsyncEnumerable<SseItem<JobResponse>> Stream(JobRecord job, IJobStore jobs, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        (JobState, int, int)? last = null;
        while (true)
        {
            var key = (job.State, job.Epoch, job.History.Count);
            if (key != last)
            {
                last = key;
                yield return new SseItem<JobResponse>(JobResponse.From(job), "progress");
            }
            if (job.IsFinished)
            {
                yield return new SseItem<JobResponse>(JobResponse.From(job), "end");
                yield break;
            }
            try
            {
                await Task.Delay(200, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            job = await jobs.GetAsync(job.Id, cancellationToken) ?? job;
        }
    }

    // \z, not $: $ also matches before a final "\n", which would create a model folder named "evil\n".
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex ModelNamePattern();
}
