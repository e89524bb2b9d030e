using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace FlashSale.Kubernetes;

public sealed class ResourceWatcherOptions
{
    /// <summary>First wait after a failed list or watch; doubled per failure up to <see cref="MaxBackoff"/> (2^min(n,5) s by default), with jitter.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(32);

    public int PageSize { get; set; } = 500;

    /// <summary>Each watch asks the server to end it after between this and twice this (client-go's reflector does the same), then resumes.</summary>
    public TimeSpan MinWatchTimeout { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// List, then watch from the list's version, for as long as the caller enumerates: a watch that ends is resumed from the
/// last version seen (an event's or a bookmark's), so nothing is lost or repeated; 410 Gone lists again and reports the
/// difference from what was known (ADDED, MODIFIED, and DELETED for objects that vanished meanwhile).
/// </summary>
public sealed class ResourceWatcher<T>
    where T : class, IKubernetesResource
{
    private readonly KubernetesClient client;
    private readonly string? @namespace;
    private readonly string? labelSelector;
    private readonly ResourceWatcherOptions options;
    private readonly ILogger logger;
    private readonly Dictionary<string, T> known = [];

    public ResourceWatcher(KubernetesClient client, string? @namespace, string? labelSelector = null, ResourceWatcherOptions? options = null)
    {
        this.client = client;
        this.@namespace = @namespace;
        this.labelSelector = labelSelector;
        this.options = options ?? new ResourceWatcherOptions();
        logger = client.LoggerFactory.CreateLogger<ResourceWatcher<T>>();
    }

    /// <summary>The version the next watch starts from: the last list's, event's or bookmark's.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>How many times the objects were listed (1 after the start; more after 410 Gone).</summary>
    public int ListCount { get; private set; }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var needList = true;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (needList)
            {
                List<WatchEvent<T>>? changes = null;
                try
                {
                    changes = await ListAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    failures++;
                    logger.LogWarning(e, "Listing {Kind} failed ({Failures} in a row): {Message}", T.ApiResource.Kind, failures, e.Message);
                }

                if (changes is null)
                {
                    await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                needList = false;
                failures = 0;
                foreach (var change in changes)
                {
                    yield return change;
                }
            }

            var timeoutSeconds = (int)(options.MinWatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
            var received = 0;
            Exception? failure = null;
            var enumerator = client.WatchAsync<T>(@namespace, ResourceVersion, labelSelector, allowBookmarks: true, timeoutSeconds, cancellationToken)
                .GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (KubernetesGoneException e)
                    {
                        logger.LogInformation("Watch of {Kind} from version {ResourceVersion} expired ({Message}); listing again", T.ApiResource.Kind, ResourceVersion, e.Message);
                        needList = true;
                        break;
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                    {
                        failure = e;
                        break;
                    }

                    var watchEvent = enumerator.Current;
                    received++;
                    failures = 0;
                    ResourceVersion = watchEvent.Object.ResourceVersion() ?? ResourceVersion;
                    switch (watchEvent.Type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified:
                            known[Key(watchEvent.Object)] = watchEvent.Object;
                            break;
                        case WatchEventType.Deleted:
                            known.Remove(Key(watchEvent.Object));
                            break;
                    }

                    yield return watchEvent;
                }
            }
            finally
            {
                await enumerator.DisposeAsync().ConfigureAwait(false);
            }

            if (failure is not null || (received == 0 && !needList))
            {
                failures++;
                if (failure is not null)
                {
                    logger.LogWarning(failure, "Watch of {Kind} failed ({Failures} in a row): {Message}", T.ApiResource.Kind, failures, failure.Message);
                }

                await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<List<WatchEvent<T>>> ListAsync(CancellationToken cancellationToken)
    {
        var current = new Dictionary<string, T>();
        string? continueToken = null;
        string? listVersion;
        do
        {
            var page = await client.ListAsync<T>(@namespace, labelSelector, continueToken, options.PageSize, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                current[Key(item)] = item;
            }

            listVersion = page.ResourceVersion;
            continueToken = page.Continue;
        }
        while (continueToken is not null);

        var changes = new List<WatchEvent<T>>();
        foreach (var (key, item) in current)
        {
            if (!known.TryGetValue(key, out var before))
            {
                changes.Add(new WatchEvent<T>(WatchEventType.Added, item));
            }
            else if (before.ResourceVersion() != item.ResourceVersion())
            {
                changes.Add(new WatchEvent<T>(WatchEventType.Modified, item));
            }
        }

        foreach (var (key, item) in known)
        {
            if (!current.ContainsKey(key))
            {
                changes.Add(new WatchEvent<T>(WatchEventType.Deleted, item));
            }
        }

        known.Clear();
        foreach (var (key, item) in current)
        {
            known[key] = item;
        }

        ResourceVersion = listVersion;
        ListCount++;
        return changes;
    }

    private TimeSpan Backoff(int failures)
    {
        var wait = options.InitialBackoff * Math.Pow(2, Math.Min(failures - 1, 5));
        wait = wait < options.MaxBackoff ? wait : options.MaxBackoff;
        return wait * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    private static string Key(T obj) => $"{obj.Namespace()}/{obj.Metadata.Name}";
}
