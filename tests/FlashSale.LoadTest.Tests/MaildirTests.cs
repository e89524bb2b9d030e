using FlashSale.LoadTest;

namespace FlashSale.LoadTest.Tests;

/// <summary>
/// The sale's mail check on sample messages shaped as aiosmtpd's Mailbox handler writes them (the message as sent, then the
/// X-Peer, X-MailFrom and X-RcptTo headers it adds), in a Maildir of the test's own.
/// </summary>
public sealed class MaildirTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "fs-maildir-" + Guid.NewGuid().ToString("N"));
    int _files;

    public MaildirTests()
    {
        foreach (var d in new[] { "new", "cur", "tmp" }) Directory.CreateDirectory(Path.Combine(_root, d));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static string Message(Guid order, string e, string to, string? rcptTo = null, bool fold = false) => $"""
        From: FlashSale <no-reply@flashsale.local>
        Date: Fri, 27 Nov 2026 09:00:01 +0000
        Subject:{(fold ? "\n " : " ")}Order {order} {e}
        Message-Id: <{Guid.NewGuid():N}@flashsale.local>
        To: {to}
        MIME-Version: 1.0
        Content-Type: text/plain; charset=utf-8
        X-FlashSale-Notification: {Guid.NewGuid()}
        X-Peer: ('127.0.0.1', 40000)
        X-MailFrom: no-reply@flashsale.local
        X-RcptTo: {rcptTo ?? to}

        Your order {order} is {e}.
        Subject: Order {Guid.NewGuid()} paid
        """.Replace("\r\n", "\n");

    /// <summary>Writes a mail as Maildir does (new/, a unique name), or as read by a client (cur/, with flags).</summary>
    void Deliver(string message, bool read = false)
    {
        var name = $"1764234001.M{++_files}P4242Q1.host";
        File.WriteAllText(Path.Combine(_root, read ? "cur" : "new", read ? name + ":2,S" : name), message);
    }

    [Fact]
    public void ParseReadsTheOrderEventAndRecipientsFromTheHeaderOnly()
    {
        var order = Guid.CreateVersion7();
        var mail = Maildir.Parse("m1", new StringReader(Message(order, "paid", "\"Buyer One\" <Lt-Buyer-000001@LoadTest.FlashSale.local>",
            "lt-buyer-000001@loadtest.flashsale.local", fold: true)));
        Assert.NotNull(mail);
        Assert.Equal((order, MailEvent.Paid), (mail.OrderId, mail.Event));
        Assert.Equal(["lt-buyer-000001@loadtest.flashsale.local"], mail.To);
        Assert.Equal(["lt-buyer-000001@loadtest.flashsale.local"], mail.RcptTo);
        Assert.Null(Maildir.Parse("m2", new StringReader("Subject: Welcome\nTo: a@b.c\n\nhello\n")));
        Assert.Null(Maildir.ParseSubject($"Order {order} shipped"));
        Assert.Equal(["a@x.io", "b@y.io"], Maildir.Addresses("\"Doe, Jane\" <a@x.io>, b@y.io"));
    }

    [Fact]
    public void TheCheckCountsPerOrderAndEventAndFindsMissingDuplicatedAndMisaddressedMails()
    {
        Guid paid = Guid.CreateVersion7(), expired = Guid.CreateVersion7(), misaddressed = Guid.CreateVersion7(), other = Guid.CreateVersion7();
        const string a = "lt-buyer-000001@loadtest.flashsale.local", b = "lt-buyer-000002@loadtest.flashsale.local";
        Deliver(Message(paid, "reserved", a));
        Deliver(Message(paid, "paid", a), read: true);
        Deliver(Message(paid, "paid", a)); // the same event mailed twice
        Deliver(Message(expired, "reserved", b));
        Deliver(Message(expired, "paid", b)); // mailed about an event the order did not go through
        // expired's "expired" mail is missing
        Deliver(Message(misaddressed, "reserved", a, rcptTo: $"{a}, {b}"));
        Deliver(Message(other, "reserved", "someone@else.local")); // an earlier run's order: ignored
        Deliver("Subject: not an order\n\nbody\n");

        var expected = new Dictionary<Guid, MailExpectation>
        {
            [paid] = new(a, [MailEvent.Reserved, MailEvent.Paid]),
            [expired] = new(b, [MailEvent.Reserved, MailEvent.Expired]),
            [misaddressed] = new(a, [MailEvent.Reserved]),
        };
        var check = MailCheck.Of(new Maildir(_root).Scan(), expected);

        var byEvent = check.Events.ToDictionary(e => e.Event);
        Assert.Equal(new MailEventCount(MailEvent.Reserved, 3, 3, 0, 0, 1, 0), byEvent[MailEvent.Reserved]);
        Assert.Equal(new MailEventCount(MailEvent.Paid, 1, 1, 0, 1, 0, 1), byEvent[MailEvent.Paid]);
        Assert.Equal(new MailEventCount(MailEvent.Expired, 1, 0, 1, 0, 0, 0), byEvent[MailEvent.Expired]);
        Assert.False(check.Ok);
        Assert.Contains(check.Problems, p => p.Contains(expired.ToString()) && p.Contains("no expired mail"));
        Assert.Contains(check.Problems, p => p.Contains(paid.ToString()) && p.Contains("2 paid mails"));
        Assert.Contains(check.Problems, p => p.Contains(misaddressed.ToString()) && p.Contains(b));
    }

    [Fact]
    public void ScansAreIncrementalAndAMailMovedToCurIsNotCountedTwice()
    {
        var order = Guid.CreateVersion7();
        const string a = "lt-buyer-000001@loadtest.flashsale.local";
        var expected = new Dictionary<Guid, MailExpectation> { [order] = new(a, [MailEvent.Reserved, MailEvent.Paid]) };
        var maildir = new Maildir(_root);
        Deliver(Message(order, "reserved", a));
        Assert.False(MailCheck.Of(maildir.Scan(), expected).Complete);

        // A client reads the first mail (new/ -> cur/ with flags) and the second arrives.
        var first = Directory.GetFiles(Path.Combine(_root, "new")).Single();
        File.Move(first, Path.Combine(_root, "cur", Path.GetFileName(first) + ":2,S"));
        Deliver(Message(order, "paid", a));
        var check = MailCheck.Of(maildir.Scan(), expected);
        Assert.True(check.Ok);
        Assert.Equal((2, 2), (check.Expected, check.Found));
    }
}
