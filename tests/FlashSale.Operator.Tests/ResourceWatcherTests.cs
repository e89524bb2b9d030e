using FlashSale.Operator.Kubernetes;
using k8s;
using k8s.Models;

namespace FlashSale.Operator.Tests;

/// <summary>List-then-watch over the official client against the fake: resume after a dropped connection, relist after 410.</summary>
public sealed class ResourceWatcherTests : FakeClusterTest
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    static readonly ResourceWatcherOptions Quick = new() { InitialBackoff = TimeSpan.FromMilliseconds(50) };

    [Fact]
    public async Task ADroppedConnectionResumesFromTheLastSeenVersionWithoutLosingOrRepeatingAnEvent()
    {
        var watcher = new ResourceWatcher<V1ConfigMap>(client, Ns, options: Quick);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, obj) in watcher.WatchAsync(timeout.Token))
            {
                lock (received)
                {
                    received.Add($"{type} {obj.Metadata.Name}");
                    if (received.Count == 10)
                    {
                        return;
                    }
                }
            }
        });

        await WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");
        for (var i = 0; i < 5; i++)
        {
            await CreateAsync($"before-{i}");
        }

        await WaitUntilAsync(() => { lock (received) { return received.Count == 5; } }, "the first five events arrived");
        var lastVersionSeen = watcher.ResourceVersion;

        Assert.Equal(1, fake.DropWatches(abort: true));
        for (var i = 0; i < 5; i++)
        {
            await CreateAsync($"after-{i}");
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
    public async Task AfterGoneTheWatcherListsAgainAndReportsWhatChangedMeanwhileOnce()
    {
        await CreateAsync("updated");
        await CreateAsync("removed");
        await CreateAsync("untouched");
        var watcher = new ResourceWatcher<V1ConfigMap>(client, Ns, options: Quick);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var state = new Dictionary<string, string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, obj) in watcher.WatchAsync(timeout.Token))
            {
                lock (received)
                {
                    received.Add($"{type} {obj.Metadata.Name}");
                    if (type == WatchEventType.Deleted)
                    {
                        state.Remove(obj.Metadata.Name);
                    }
                    else if (type != WatchEventType.Bookmark)
                    {
                        state[obj.Metadata.Name] = obj.Data["key"];
                    }

                    if (received.Count == 6)
                    {
                        return;
                    }
                }
            }
        });
        await WaitUntilAsync(() => { lock (received) { return received.Count == 3 && fake.OpenWatchCount == 1; } }, "the initial list was reported and the watch opened");

        using (fake.HoldWatches())
        {
            fake.DropWatches();
            await WaitUntilAsync(() => fake.Requests.Count(r => r.Verb == "watch") == 2, "the watcher asked to watch again");
            await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"key":"new"}}""", V1Patch.PatchType.MergePatch), "updated", Ns);
            await client.CoreV1.DeleteNamespacedConfigMapAsync("removed", Ns);
            await CreateAsync("added");
            fake.Compact();
        }

        await watching;
        Assert.Equal(["Added removed", "Added untouched", "Added updated"], received.Take(3).Order());
        Assert.Equal(["Added added", "Deleted removed", "Modified updated"], received.Skip(3).Order());
        Assert.Equal(2, watcher.ListCount);
        var server = fake.List<V1ConfigMap>(Ns).ToDictionary(c => c.Metadata.Name, c => c.Data["key"]);
        Assert.Equal(server, state);
    }

    [Fact]
    public async Task BookmarksAdvanceTheVersionSoAResumeNeedsNoRelist()
    {
        await CreateAsync("watched");
        var watcher = new ResourceWatcher<V1ConfigMap>(client, Ns, options: Quick);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<(WatchEventType Type, V1ConfigMap Object)>();
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
        await WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");
        var listedVersion = watcher.ResourceVersion;

        // Changes elsewhere move the server's version without any event for this watch.
        for (var i = 0; i < 3; i++)
        {
            await client.AppsV1.CreateNamespacedDeploymentAsync(
                new V1Deployment { Metadata = new V1ObjectMeta { Name = $"elsewhere-{i}" }, Spec = new V1DeploymentSpec() }, Ns);
        }

        fake.SendBookmarks();
        await WaitUntilAsync(() => { lock (received) { return received.Any(e => e.Type == WatchEventType.Bookmark); } }, "a bookmark arrived");
        Assert.Equal(fake.ResourceVersion, watcher.ResourceVersion);
        Assert.True(long.Parse(watcher.ResourceVersion!) > long.Parse(listedVersion!));

        // History before the bookmark is gone: resuming from the listed version would be 410, from the bookmark it is not.
        fake.Compact();
        fake.DropWatches();
        await WaitUntilAsync(() => fake.Requests.Count(r => r.Verb == "watch") == 2 && fake.OpenWatchCount == 1, "the watch resumed");
        await CreateAsync("later");
        await watching;

        Assert.Equal(1, watcher.ListCount);
        var bookmarkVersion = received.First(e => e.Type == WatchEventType.Bookmark).Object.Metadata.ResourceVersion;
        Assert.Contains($"resourceVersion={bookmarkVersion}&", fake.Requests.Where(r => r.Verb == "watch").ElementAt(1).Query + "&");
    }

    [Fact]
    public async Task ACustomKindIsListedAndWatchedInEveryNamespace()
    {
        fake.RegisterKind<Entities.V1Alpha1FlashSale>();
        var watcher = new ResourceWatcher<Entities.V1Alpha1FlashSale>(client, @namespace: null, options: Quick);
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<string>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, obj) in watcher.WatchAsync(timeout.Token))
            {
                received.Add($"{type} {obj.Metadata.NamespaceProperty}/{obj.Metadata.Name}");
                if (received.Count == 2)
                {
                    return;
                }
            }
        });

        foreach (var ns in new[] { "spring", "autumn" })
        {
            await WaitUntilAsync(() => fake.OpenWatchCount == 1, "the watch is open");
            fake.Seed(new Entities.V1Alpha1FlashSale { Metadata = new V1ObjectMeta { Name = "sale", NamespaceProperty = ns } });
        }

        await watching;
        Assert.Equal(["Added spring/sale", "Added autumn/sale"], received);
        Assert.All(fake.Requests.Where(r => r.Resource == "flashsales"), r => Assert.Null(r.Namespace));
    }
}
