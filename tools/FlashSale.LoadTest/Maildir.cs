using System.Text;
using System.Text.RegularExpressions;

namespace FlashSale.LoadTest;

/// <summary>The order events the notifications service mails about (subjects <c>Order {id} reserved|paid|expired</c>).</summary>
public enum MailEvent { Reserved, Paid, Expired }

/// <summary>One delivered mail about an order: its file's unique name, the order and event from the subject, and its recipients.</summary>
public sealed record OrderMail(string Name, Guid OrderId, MailEvent Event, IReadOnlyList<string> To, IReadOnlyList<string> RcptTo);

/// <summary>
/// Reads the local SMTP sink's Maildir (aiosmtpd's Mailbox handler: one RFC 822 file per mail in <c>new/</c>, moved to
/// <c>cur/</c> once read by a client, the envelope recipients in an <c>X-RcptTo</c> header). Scans are incremental: a file is
/// parsed once, by its unique name (the part before the <c>:2,</c> flags a reader may add when moving it to <c>cur/</c>).
/// </summary>
public sealed partial class Maildir(string root)
{
    readonly Dictionary<string, OrderMail?> _parsed = new(StringComparer.Ordinal);

    public string Root { get; } = root;

    /// <summary>Every mail about an order found so far (mails with another subject are skipped).</summary>
    public IReadOnlyList<OrderMail> Scan()
    {
        foreach (var folder in new[] { "new", "cur" })
        {
            var dir = Path.Combine(Root, folder);
            if (!Directory.Exists(dir)) continue;
            foreach (var path in Directory.EnumerateFiles(dir))
            {
                var file = Path.GetFileName(path);
                var name = file.IndexOf(':') is > 0 and var colon ? file[..colon] : file;
                if (_parsed.ContainsKey(name)) continue;
                try
                {
                    using var reader = new StreamReader(path, Encoding.UTF8);
                    _parsed[name] = Parse(name, reader);
                }
                // Moved from new/ to cur/ since the listing: found there on this scan or the next.
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { }
            }
        }
        return _parsed.Values.OfType<OrderMail>().ToList();
    }

    /// <summary>The mail's order event and recipients from its header, or null when its subject names no order event.</summary>
    public static OrderMail? Parse(string name, TextReader message)
    {
        var headers = ReadHeaders(message);
        if (ParseSubject(headers.GetValueOrDefault("subject")?.FirstOrDefault()) is not { } subject) return null;
        return new OrderMail(name, subject.OrderId, subject.Event,
            [.. headers.GetValueOrDefault("to", []).SelectMany(Addresses)],
            [.. headers.GetValueOrDefault("x-rcptto", []).SelectMany(Addresses)]);
    }

    /// <summary>The order and event of a subject <c>Order {uuid} reserved|paid|expired</c>.</summary>
    public static (Guid OrderId, MailEvent Event)? ParseSubject(string? subject)
    {
        if (subject is null || SubjectPattern().Match(subject.Trim()) is not { Success: true } m) return null;
        var e = m.Groups[2].Value switch { "reserved" => MailEvent.Reserved, "paid" => MailEvent.Paid, _ => MailEvent.Expired };
        return (Guid.Parse(m.Groups[1].Value), e);
    }

    /// <summary>The addresses of an address-list header (<c>a@x, "Name" &lt;b@y&gt;</c>), lower-cased.</summary>
    public static IEnumerable<string> Addresses(string header)
    {
        foreach (var part in AddressSplit().Split(header))
        {
            var p = part.Trim();
            if (p.Length == 0) continue;
            var angle = AngleAddress().Match(p);
            yield return (angle.Success ? angle.Groups[1].Value : p).Trim().ToLowerInvariant();
        }
    }

    /// <summary>Header fields by lower-cased name (a field may repeat), folded lines unfolded; stops at the blank line.</summary>
    static Dictionary<string, List<string>> ReadHeaders(TextReader message)
    {
        var headers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string? name = null;
        var value = new StringBuilder();
        void Flush()
        {
            if (name is null) return;
            if (!headers.TryGetValue(name, out var list)) headers[name] = list = [];
            list.Add(value.ToString().Trim());
        }
        for (var line = message.ReadLine(); !string.IsNullOrEmpty(line); line = message.ReadLine())
        {
            if (line[0] is ' ' or '\t') { value.Append(' ').Append(line.Trim()); continue; }
            Flush();
            var colon = line.IndexOf(':');
            if (colon <= 0) { name = null; continue; }
            name = line[..colon].Trim().ToLowerInvariant();
            value.Clear().Append(line[(colon + 1)..]);
        }
        Flush();
        return headers;
    }

    [GeneratedRegex(@"^Order ([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}) (reserved|paid|expired)$")]
    private static partial Regex SubjectPattern();

    // Commas separate addresses except inside a quoted display name.
    [GeneratedRegex(@",(?=(?:[^""]*""[^""]*"")*[^""]*$)")]
    private static partial Regex AddressSplit();

    [GeneratedRegex("<([^>]*)>")]
    private static partial Regex AngleAddress();
}

/// <summary>The mails expected for one order: its buyer's address and the events it went through.</summary>
public sealed record MailExpectation(string Email, IReadOnlyCollection<MailEvent> Events);

/// <summary>Mails per event: expected, found (order events with at least one mail), missing, duplicated, to a wrong address.</summary>
public sealed record MailEventCount(MailEvent Event, int Expected, int Found, int Missing, int Duplicated, int WrongRecipient, int Unexpected);

/// <summary>What the Maildir holds of the expected mails: counts by event, and a few examples of each problem.</summary>
public sealed record MailCheck(IReadOnlyList<MailEventCount> Events, IReadOnlyList<string> Problems)
{
    public int Expected => Events.Sum(e => e.Expected);
    public int Found => Events.Sum(e => e.Found);
    public int Missing => Events.Sum(e => e.Missing);
    public int Duplicated => Events.Sum(e => e.Duplicated);
    public int WrongRecipient => Events.Sum(e => e.WrongRecipient);
    /// <summary>Mails about an expected order for an event it did not go through (e.g. expired although paid).</summary>
    public int Unexpected => Events.Sum(e => e.Unexpected);
    public bool Complete => Missing == 0;
    public bool Ok => Missing == 0 && Duplicated == 0 && WrongRecipient == 0 && Unexpected == 0;

    /// <summary>
    /// Compares <paramref name="mails"/> with the expected ones. Mails about other orders (earlier runs sharing the Maildir)
    /// are ignored. A mail is to the right address when both To and X-RcptTo name exactly the buyer's address.
    /// </summary>
    public static MailCheck Of(IEnumerable<OrderMail> mails, IReadOnlyDictionary<Guid, MailExpectation> expected, int examples = 5)
    {
        var byEvent = mails.Where(m => expected.ContainsKey(m.OrderId)).ToLookup(m => (m.OrderId, m.Event));
        var problems = new List<string>();
        void Note(string problem) { if (problems.Count < examples * 4) problems.Add(problem); }
        var counts = new List<MailEventCount>();
        foreach (var e in Enum.GetValues<MailEvent>())
        {
            int wanted = 0, found = 0, missing = 0, duplicated = 0, wrong = 0, unexpected = 0;
            foreach (var (orderId, x) in expected)
            {
                var got = byEvent[(orderId, e)].ToList();
                var email = x.Email.ToLowerInvariant();
                var name = e.ToString().ToLowerInvariant();
                foreach (var m in got.Where(m => !(m.To.SequenceEqual([email]) && m.RcptTo.SequenceEqual([email]))))
                {
                    wrong++;
                    Note($"order {orderId} {name}: mail {m.Name} to [{string.Join(", ", m.To)}], envelope [{string.Join(", ", m.RcptTo)}], expected {email}");
                }
                if (!x.Events.Contains(e))
                {
                    unexpected += got.Count;
                    if (got.Count > 0) Note($"order {orderId}: {got.Count} {name} mail(s), but the order was not {name}");
                    continue;
                }
                wanted++;
                if (got.Count == 0) { missing++; Note($"order {orderId}: no {name} mail"); continue; }
                found++;
                if (got.Count > 1) { duplicated += got.Count - 1; Note($"order {orderId}: {got.Count} {name} mails"); }
            }
            counts.Add(new MailEventCount(e, wanted, found, missing, duplicated, wrong, unexpected));
        }
        return new MailCheck(counts, problems);
    }
}
