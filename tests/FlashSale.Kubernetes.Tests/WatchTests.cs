using FlashSale.Kubernetes.Fake;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Kubernetes.Tests;

public sealed class WatchTests : FakeApiServerTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task EventsArriveInCommitOrder()
    {
        var listed = await client.ListAsync<V1ConfigMap>(TestKit.Ns);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<WatchEvent<V1ConfigMap>>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in client.WatchAsync<V1ConfigMap>(TestKit.Ns, listed.ResourceVersion, cancellationToken: timeout.Token))
            {
                received.Add(e);
                if (received.Count == 12)
                {
                    return;
                }
            }
        });

        for (var i = 0; i < 10; i++)
        {
            await client.CreateAsync(TestKit.ConfigMap($"cm-{i}"));
        }

        await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "cm-3", System.Text.Json.Nodes.JsonNode.Parse("""{"data":{"key":"changed"}}""")!);
        await client.DeleteAsync<V1ConfigMap>(TestKit.Ns, "cm-7");
        await watching;

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"ADDED cm-{i}").Append("MODIFIED cm-3").Append("DELETED cm-7"), received.Select(e => $"{e.Type.ToString().ToUpperInvariant()} {e.Object.Metadata.Name}"));
        var versions = received.Select(e => long.Parse(e.Object.Metadata.ResourceVersion!)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal("changed", received[10].Object.Data!["key"]);
    }

    [Fact]
    public async Task ADroppedConnectionResumesFromTheLastSeenVersionWithoutLosingOrRepeatingAnEvent()
    {
        var watcher = new ResourceWatcher<V1ConfigMap>(client, TestKit.Ns, options: new ResourceWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(50) });
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var versionsSeenBeforeDrop = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in watcher.WatchAsync(timeout.Token))
            {
                lock (received)
                {
                    received.Add($"{e.Type} {e.Object.Metadata.Name}");
                    if (received.Count == 10)
                    {
                        return;
                    }
                }
            }
        });

        await TestKit.WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");
        for (var i = 0; i < 5; i++)
        {
            await client.CreateAsync(TestKit.ConfigMap($"before-{i}"));
        }

        await TestKit.WaitUntilAsync(() => { lock (received) { return received.Count == 5; } }, "the first five events arrived");
        var lastVersionSeen = watcher.ResourceVersion;

        Assert.Equal(1, fake.DropWatches(abort: true));
        for (var i = 0; i < 5; i++)
        {
            await client.CreateAsync(TestKit.ConfigMap($"after-{i}"));
        }

        await watching;
        Assert.Equal(
            Enumerable.Range(0, 5).Select(i => $"Added before-{i}").Concat(Enumerable.Range(0, 5).Select(i => $"Added after-{i}")),
            received);
        var watches = fake.Requests.Where(r => r.Verb == "watch").ToList();
        Assert.True(watches.Count >= 2, "the watcher reconnected");
        Assert.Contains($"resourceVersion={lastVersionSeen}", watches[1].Query);
        Assert.Equal(1, watcher.ListCount);
    }

    [Fact]
    public async Task ATooOldVersionYieldsGoneAndARelistRecoversEveryObject()
    {
        var start = await client.ListAsync<V1ConfigMap>(TestKit.Ns);
        for (var i = 0; i < 4; i++)
        {
            await client.CreateAsync(TestKit.ConfigMap($"kept-{i}"));
        }

        fake.Compact();

        var gone = await Assert.ThrowsAsync<KubernetesGoneException>(async () =>
        {
            await foreach (var e in client.WatchAsync<V1ConfigMap>(TestKit.Ns, start.ResourceVersion))
            {
                Assert.Fail($"No event may arrive from an expired version, got {e.Type}.");
            }
        });
        Assert.Equal("Expired", gone.Reason);

        var relisted = await client.ListAsync<V1ConfigMap>(TestKit.Ns);
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"kept-{i}"), relisted.Items.Select(i => i.Metadata.Name));
    }

    [Fact]
    public async Task TheWatcherListsAgainAfterGoneAndReportsWhatChangedMeanwhile()
    {
        await client.CreateAsync(TestKit.ConfigMap("updated"));
        await client.CreateAsync(TestKit.ConfigMap("removed"));
        await client.CreateAsync(TestKit.ConfigMap("untouched"));
        var watcher = new ResourceWatcher<V1ConfigMap>(client, TestKit.Ns, options: new ResourceWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(50) });
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var state = new Dictionary<string, string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in watcher.WatchAsync(timeout.Token))
            {
                lock (received)
                {
                    received.Add($"{e.Type} {e.Object.Metadata.Name}");
                    if (e.Type == WatchEventType.Deleted)
                    {
                        state.Remove(e.Object.Metadata.Name!);
                    }
                    else if (e.Type != WatchEventType.Bookmark)
                    {
                        state[e.Object.Metadata.Name!] = e.Object.Data!["key"];
                    }

                    if (received.Count == 6)
                    {
                        return;
                    }
                }
            }
        });
        await TestKit.WaitUntilAsync(() => { lock (received) { return received.Count == 3 && fake.OpenWatchCount == 1; } }, "the initial list was reported and the watch opened");

        using (fake.HoldWatches())
        {
            fake.DropWatches();
            await TestKit.WaitUntilAsync(() => fake.Requests.Count(r => r.Verb == "watch") == 2, "the watcher asked to watch again");
            await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "updated", System.Text.Json.Nodes.JsonNode.Parse("""{"data":{"key":"new"}}""")!);
            await client.DeleteAsync<V1ConfigMap>(TestKit.Ns, "removed");
            await client.CreateAsync(TestKit.ConfigMap("added"));
            fake.Compact();
        }

        await watching;
        Assert.Equal(["Added removed", "Added untouched", "Added updated"], received.Take(3).Order());
        Assert.Equal(["Added added", "Deleted removed", "Modified updated"], received.Skip(3).Order());
        Assert.Equal(2, watcher.ListCount);
        var server = fake.List<V1ConfigMap>(TestKit.Ns).ToDictionary(c => c.Metadata.Name!, c => c.Data!["key"]);
        Assert.Equal(server, state);
    }

    [Fact]
    public async Task BookmarksAdvanceTheVersionSoAResumeNeedsNoRelist()
    {
        await client.CreateAsync(TestKit.ConfigMap("watched"));
        var watcher = new ResourceWatcher<V1ConfigMap>(client, TestKit.Ns, options: new ResourceWatcherOptions { InitialBackoff = TimeSpan.FromMilliseconds(50) });
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<WatchEvent<V1ConfigMap>>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in watcher.WatchAsync(timeout.Token))
            {
                lock (received)
                {
                    received.Add(e);
                    if (e.Type == WatchEventType.Added && e.Object.Metadata.Name == "later")
                    {
                        return;
                    }
                }
            }
        });
        await TestKit.WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");
        var listedVersion = watcher.ResourceVersion;

        // Changes elsewhere move the server's version without any event for this watch.
        for (var i = 0; i < 3; i++)
        {
            await client.CreateAsync(TestKit.Deployment($"elsewhere-{i}"));
        }

        fake.SendBookmarks();
        await TestKit.WaitUntilAsync(() => { lock (received) { return received.Any(e => e.Type == WatchEventType.Bookmark); } }, "a bookmark arrived");
        Assert.Equal(fake.ResourceVersion, watcher.ResourceVersion);
        Assert.True(long.Parse(watcher.ResourceVersion!) > long.Parse(listedVersion!));

        // History before the bookmark is gone: resuming from the listed version would be 410, from the bookmark it is not.
        fake.Compact();
        fake.DropWatches();
        await TestKit.WaitUntilAsync(() => fake.Requests.Count(r => r.Verb == "watch") == 2 && fake.OpenWatchCount == 1, "the watch resumed");
        await client.CreateAsync(TestKit.ConfigMap("later"));
        await watching;

        Assert.Equal(1, watcher.ListCount);
        var bookmarkVersion = received.First(e => e.Type == WatchEventType.Bookmark).Object.Metadata.ResourceVersion;
        Assert.Contains($"resourceVersion={bookmarkVersion}&", fake.Requests.Where(r => r.Verb == "watch").ElementAt(1).Query + "&");
    }

    [Fact]
    public async Task ALabelSelectedWatchSeesObjectsLeavingTheSelectionAsDeleted()
    {
        await client.CreateAsync(TestKit.ConfigMap("moving", new Dictionary<string, string> { ["sale"] = "spring" }));
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in client.WatchAsync<V1ConfigMap>(TestKit.Ns, labelSelector: "sale=spring", cancellationToken: timeout.Token))
            {
                received.Add($"{e.Type} {e.Object.Metadata.Name}");
                if (received.Count == 3)
                {
                    return;
                }
            }
        });
        await TestKit.WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");

        await client.CreateAsync(TestKit.ConfigMap("other", new Dictionary<string, string> { ["sale"] = "summer" }));
        await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "moving", System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"labels":{"sale":"summer"}}}""")!);
        await client.MergePatchAsync<V1ConfigMap>(TestKit.Ns, "other", System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"labels":{"sale":"spring"}}}""")!);
        await watching;

        Assert.Equal(["Added moving", "Deleted moving", "Added other"], received);
    }

    [Fact]
    public async Task AWatchEndsWhenItsTimeoutRunsOut()
    {
        var started = DateTime.UtcNow;
        var events = 0;
        await foreach (var _ in client.WatchAsync<V1ConfigMap>(TestKit.Ns, fake.ResourceVersion, timeoutSeconds: 1))
        {
            events++;
        }

        Assert.Equal(0, events);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(10));
    }
}
