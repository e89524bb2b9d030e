using System.Net;
using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlashSale.Operator.Kubernetes;

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
/// List, then watch from the list's version, for as long as the caller enumerates. The official client's watch ends with
/// its connection and reports 410 Gone only to its error callback; here a watch that ends is resumed from the last version
/// seen (an event's or a bookmark's), so nothing is lost or repeated, and 410 lists again and reports the difference from
/// what was known (ADDED, MODIFIED, and DELETED for objects that vanished meanwhile). Any kind: the calls go through the
/// CustomObjects API, which serves the core group too.
/// </summary>
public sealed class ResourceWatcher<T>(IKubernetes client, string? @namespace, string? labelSelector = null, ResourceWatcherOptions? options = null, ILogger? logger = null)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    readonly ResourceWatcherOptions _options = options ?? new ResourceWatcherOptions();
    readonly ILogger _logger = logger ?? NullLogger.Instance;
    readonly Dictionary<string, T> _known = [];

    /// <summary>The version the next watch starts from: the last list's, event's or bookmark's.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>How many times the objects were listed (1 after the start; more after 410 Gone).</summary>
    public int ListCount { get; private set; }

    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var needList = true;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (needList)
            {
                List<(WatchEventType, T)>? changes = null;
                try
                {
                    changes = await ListAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    failures++;
                    _logger.LogWarning(e, "Listing {Kind} failed ({Failures} in a row): {Message}", KubernetesKind<T>.Kind, failures, e.Message);
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

            var gone = false;
            var received = 0;
            Exception? failure = null;
            var timeoutSeconds = (int)(_options.MinWatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
            void OnError(Exception e)
            {
                if (e is KubernetesException { Status.Code: (int)HttpStatusCode.Gone })
                {
                    gone = true;
                }
                else
                {
                    // As the official client does for a line it cannot read: reported, then skipped.
                    _logger.LogWarning(e, "Watch of {Kind} reported an error: {Message}", KubernetesKind<T>.Kind, e.Message);
                }
            }

            var enumerator = Watch(ResourceVersion!, timeoutSeconds, OnError, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (!gone)
                {
                    try
                    {
                        if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (Exception e) when (e.StatusCode() == HttpStatusCode.Gone)
                    {
                        gone = true;
                        break;
                    }
                    catch (EndOfStreamException)
                    {
                        // The official client's watch throws this when the server ends a watch that sent nothing.
                        break;
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                    {
                        failure = e;
                        break;
                    }

                    var (type, obj) = enumerator.Current;
                    received++;
                    failures = 0;
                    ResourceVersion = obj.ResourceVersion() ?? ResourceVersion;
                    switch (type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified:
                            _known[Key(obj)] = obj;
                            break;
                        case WatchEventType.Deleted:
                            _known.Remove(Key(obj));
                            break;
                    }

                    yield return (type, obj);
                }
            }
            finally
            {
                await enumerator.DisposeAsync().ConfigureAwait(false);
            }

            if (gone)
            {
                _logger.LogInformation("Watch of {Kind} from version {ResourceVersion} expired (410 Gone); listing again", KubernetesKind<T>.Kind, ResourceVersion);
                needList = true;
            }
            else if (failure is not null || received == 0)
            {
                failures++;
                if (failure is not null)
                {
                    _logger.LogWarning(failure, "Watch of {Kind} failed ({Failures} in a row): {Message}", KubernetesKind<T>.Kind, failures, failure.Message);
                }

                await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    IAsyncEnumerable<(WatchEventType, T)> Watch(string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken)
    {
        var (group, version, plural) = (KubernetesKind<T>.Group, KubernetesKind<T>.Version, KubernetesKind<T>.Plural);
        var response = @namespace is null
            ? client.CustomObjects.ListCustomObjectForAllNamespacesWithHttpMessagesAsync<KubernetesList<T>>(
                group, version, plural, allowWatchBookmarks: true, labelSelector: labelSelector, resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, watch: true,
                cancellationToken: cancellationToken)
            : client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<KubernetesList<T>>(
                group, version, @namespace, plural, allowWatchBookmarks: true, labelSelector: labelSelector, resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, watch: true,
                cancellationToken: cancellationToken);
#pragma warning disable CS0618 // The typed replacements exist per built-in kind only; this one watches any kind.
        return response.WatchAsync<T, KubernetesList<T>>(onError, cancellationToken);
#pragma warning restore CS0618
    }

    async Task<List<(WatchEventType, T)>> ListAsync(CancellationToken cancellationToken)
    {
        var (group, version, plural) = (KubernetesKind<T>.Group, KubernetesKind<T>.Version, KubernetesKind<T>.Plural);
        var current = new Dictionary<string, T>();
        string? continueToken = null;
        string? listVersion;
        do
        {
            var page = @namespace is null
                ? await client.CustomObjects.ListCustomObjectForAllNamespacesAsync<KubernetesList<T>>(
                    group, version, plural, continueParameter: continueToken, labelSelector: labelSelector, limit: _options.PageSize, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await client.CustomObjects.ListNamespacedCustomObjectAsync<KubernetesList<T>>(
                    group, version, @namespace, plural, continueParameter: continueToken, labelSelector: labelSelector, limit: _options.PageSize, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items ?? [])
            {
                current[Key(item)] = item;
            }

            listVersion = page.Metadata?.ResourceVersion;
            continueToken = string.IsNullOrEmpty(page.Metadata?.ContinueProperty) ? null : page.Metadata.ContinueProperty;
        }
        while (continueToken is not null);

        var changes = new List<(WatchEventType, T)>();
        foreach (var (key, item) in current)
        {
            if (!_known.TryGetValue(key, out var before))
            {
                changes.Add((WatchEventType.Added, item));
            }
            else if (before.ResourceVersion() != item.ResourceVersion())
            {
                changes.Add((WatchEventType.Modified, item));
            }
        }

        foreach (var (key, item) in _known)
        {
            if (!current.ContainsKey(key))
            {
                changes.Add((WatchEventType.Deleted, item));
            }
        }

        _known.Clear();
        foreach (var (key, item) in current)
        {
            _known[key] = item;
        }

        ResourceVersion = listVersion;
        ListCount++;
        return changes;
    }

    TimeSpan Backoff(int failures)
    {
        var wait = _options.InitialBackoff * Math.Pow(2, Math.Min(failures - 1, 5));
        wait = wait < _options.MaxBackoff ? wait : _options.MaxBackoff;
        return wait * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    static string Key(T obj) => $"{obj.Namespace()}/{obj.Name()}";
}
