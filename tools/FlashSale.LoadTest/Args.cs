using System.Globalization;
using FlashSale.Sales;

namespace FlashSale.LoadTest;

/// <summary>Command-line options as <c>--name value</c> pairs (and bare <c>--flag</c>); every lookup names its option in errors.</summary>
public sealed class Args
{
    readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    public Args(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
            var name = a[2..];
            var eq = name.IndexOf('=');
            if (eq >= 0) { _values[name[..eq]] = name[(eq + 1)..]; continue; }
            if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal)) _values[name] = list[++i];
            else _values[name] = "true";
        }
    }

    public string? Get(string name) { _used.Add(name); return _values.TryGetValue(name, out var v) ? v : null; }
    public string Str(string name, string fallback) => Get(name) ?? fallback;
    public string Required(string name) => Get(name) ?? throw new UsageException($"--{name} is required");
    public bool Flag(string name) => Get(name) is { } v && v is not ("false" or "0" or "no");

    public int Int(string name, int fallback) => Get(name) is { } v
        ? int.TryParse(v.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"--{name} '{v}' is not an integer")
        : fallback;

    public long Long(string name, long fallback) => Get(name) is { } v
        ? long.TryParse(v.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"--{name} '{v}' is not an integer")
        : fallback;

    public double Double(string name, double fallback) => Get(name) is { } v
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"--{name} '{v}' is not a number")
        : fallback;

    public TimeSpan Duration(string name, TimeSpan fallback) => Get(name) is { } v
        ? Durations.TryParse(v, out var d) ? d : throw new UsageException($"--{name} '{v}' is not a duration (e.g. 10s, 2m)")
        : fallback;

    /// <summary>Fails on options nobody asked for (typos).</summary>
    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException("unknown option(s): " + string.Join(", ", unknown.Select(u => "--" + u)));
    }
}

public sealed class UsageException(string message) : Exception(message);
