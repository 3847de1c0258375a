namespace FlowService.Api.Payloads;

/// <summary>
/// Where the values of a JSON inference body's matrix fields lie, as pass one of <see cref="JsonInferenceReader"/> found
/// them: the last occurrence of each top-level <c>rows</c>, <c>z</c> and <c>context</c> (a repeated property counts
/// once, the last one, as a JSON object's properties do), null where absent. Pass two then reads one matrix from its
/// own bytes instead of tokenizing the whole body again for each field, into a buffer of the size pass one counted.
/// </summary>
public readonly record struct JsonMatrixRanges(JsonMatrixRanges.Value? Rows, JsonMatrixRanges.Value? Z, JsonMatrixRanges.Value? Context)
{
    /// <summary>A field's value: its bytes in the body, and how many numbers it holds at any depth.</summary>
    public readonly record struct Value(Range Bytes, int Numbers);

    /// <summary>The value of <paramref name="field"/> (<c>rows</c>, <c>z</c> or <c>context</c>).</summary>
    public Value? Of(string field) => field switch
    {
        "rows" => Rows,
        "z" => Z,
        "context" => Context,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Only rows, z and context are matrix fields."),
    };
}
