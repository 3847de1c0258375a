using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace FlowService.Api.Observability;

/// <summary>
/// The Prometheus text exposition format 0.0.4 details: family names from instrument names and units
/// (dots to underscores, base-unit suffixes, _total on counters), label sets, escaping and number formatting.
/// </summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// "flowservice.http.request.duration" in "s" → "flowservice_http_request_duration_seconds"; a counter
    /// "flowservice.http.requests" → "flowservice_http_requests_total". Annotation units ("{rows}") add nothing.
    /// </summary>
    public static string FamilyName(Instrument instrument, MetricKind kind)
    {
        var name = SanitizeName(instrument.Name);
        var unitSuffix = instrument.Unit switch
        {
            "s" => "seconds",
            "By" => "bytes",
            _ => null,
        };
        if (unitSuffix is not null && !name.EndsWith("_" + unitSuffix, StringComparison.Ordinal)) name += "_" + unitSuffix;
        if (kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        return name;
    }

    /// <summary>Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*; anything else becomes an underscore.</summary>
    public static string SanitizeName(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            var ok = char.IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && char.IsAsciiDigit(c));
            if (!ok) chars[i] = '_';
        }
        return new string(chars);
    }

    /// <summary>Label names match [a-zA-Z_][a-zA-Z0-9_]*.</summary>
    public static string SanitizeLabelName(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            var ok = char.IsAsciiLetter(c) || c == '_' || (i > 0 && char.IsAsciiDigit(c));
            if (!ok) chars[i] = '_';
        }
        return new string(chars);
    }

    /// <summary>
    /// The label set of one measurement as the text between braces, sorted by label name so that the same set
    /// always gives the same series key: <c>method="GET",route="/score"</c>.
    /// </summary>
    public static string LabelSet(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var sorted = tags.ToArray();
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var text = new StringBuilder();
        foreach (var (key, value) in sorted)
        {
            if (text.Length > 0) text.Append(',');
            text.Append(SanitizeLabelName(key)).Append("=\"");
            AppendEscapedLabelValue(text, LabelValue(value));
            text.Append('"');
        }
        return text.ToString();
    }

    public static string LabelValue(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static void AppendEscapedLabelValue(StringBuilder text, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': text.Append("\\\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append("\\n"); break;
                default: text.Append(c); break;
            }
        }
    }

    /// <summary>HELP text escapes backslash and line feed (not quotes).</summary>
    public static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string Number(double value)
    {
        if (double.IsPositiveInfinity(value)) return "+Inf";
        if (double.IsNegativeInfinity(value)) return "-Inf";
        if (double.IsNaN(value)) return "NaN";
        return value.ToString("R", CultureInfo.InvariantCulture);
    }
}
