using FlashSale.Operator.Controller;
using FlashSale.Operator.Entities;
using FlashSale.Sales;
using k8s.Models;

namespace FlashSale.Operator.Local;

/// <summary>One service of a sale as a local process: what its Deployment's container would get, with cluster things made local.</summary>
public sealed record LocalProcess(string Service, int Port, IReadOnlyDictionary<string, string> Environment)
{
    public string Url => $"http://127.0.0.1:{Port}";
}

public sealed class LocalPlatformException(IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>
/// Local runs start the services from the operator's own rendering of the sale (<see cref="Children.Deployment"/>), so a
/// setting missing in Kubernetes is missing locally too. Only three things are translated, each in one place:
/// a Secret key is the file <c>&lt;secrets&gt;/&lt;secret&gt;/&lt;key&gt;</c>; a ConfigMap volume is a folder holding its
/// data; an in-cluster address of a service of the sale is 127.0.0.1 at that service's port in <see cref="DefaultPorts"/>.
/// </summary>
public static class LocalPlatform
{
    public static readonly IReadOnlyDictionary<string, int> DefaultPorts = new Dictionary<string, int>
    {
        ["users"] = 5101,
        ["orders"] = 5102,
        ["stock"] = 5103,
        ["notifications"] = 5104,
    };

    /// <summary>The processes of every service; ConfigMaps are written under <paramref name="configDirectory"/>.</summary>
    public static IReadOnlyList<LocalProcess> Render(V1Alpha1FlashSale fs, SaleDefinition sale, string secretsDirectory, string configDirectory,
        IReadOnlyDictionary<string, int>? ports = null)
    {
        ports ??= DefaultPorts;
        var errors = new List<string>();
        var configMaps = new Dictionary<string, V1ConfigMap> { [Children.ConfigMapName(fs)] = Children.ConfigMap(fs, sale) };
        var addresses = SaleService.All.ToDictionary(s => s.Name, s => $"http://127.0.0.1:{PortOf(ports, s.Name)}");
        var processes = new List<LocalProcess>();
        foreach (var service in SaleService.All)
        {
            var pod = Children.Deployment(fs, service).Spec!.Template!.Spec!;
            var container = pod.Containers!.Single();
            var port = PortOf(ports, service.Name);

            // Mount paths of ConfigMap volumes become folders holding the ConfigMap's data.
            var mounts = new List<(string MountPath, string Directory)>();
            foreach (var mount in container.VolumeMounts ?? [])
            {
                var volume = pod.Volumes!.Single(v => v.Name == mount.Name);
                if (volume.ConfigMap is { } source)
                {
                    if (!configMaps.TryGetValue(source.Name!, out var configMap))
                    {
                        errors.Add($"{service.Name}: ConfigMap '{source.Name}' is not one the operator renders");
                        continue;
                    }

                    var directory = Path.GetFullPath(Path.Combine(configDirectory, source.Name!));
                    Directory.CreateDirectory(directory);
                    foreach (var (key, value) in configMap.Data ?? new Dictionary<string, string>())
                    {
                        File.WriteAllText(Path.Combine(directory, key), value);
                    }

                    mounts.Add((mount.MountPath!.TrimEnd('/'), directory));
                }
            }

            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var variable in container.Env ?? [])
            {
                var name = variable.Name!;
                if (variable.ValueFrom?.SecretKeyRef is { } reference)
                {
                    var file = Path.Combine(secretsDirectory, reference.Name!, reference.Key!);
                    if (File.Exists(file))
                    {
                        environment[name] = File.ReadAllText(file).TrimEnd('\n', '\r');
                    }
                    else if (reference.Optional != true)
                    {
                        errors.Add($"{service.Name}: {name} needs Secret '{reference.Name}' key '{reference.Key}': write it to {file}");
                    }

                    continue;
                }

                if (variable.ValueFrom is not null)
                {
                    errors.Add($"{service.Name}: {name} takes its value from something a local run cannot provide");
                    continue;
                }

                environment[name] = Localize(variable.Value ?? "", fs, addresses, mounts);
            }

            // The container's port is the process's port in the table, on loopback only.
            environment["ASPNETCORE_HTTP_PORTS"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
            processes.Add(new LocalProcess(service.Name, port, environment));
        }

        return errors.Count == 0 ? processes : throw new LocalPlatformException(errors);
    }

    static int PortOf(IReadOnlyDictionary<string, int> ports, string service) =>
        ports.TryGetValue(service, out var port) ? port : throw new LocalPlatformException([$"no local port for the {service} service"]);

    /// <summary>In-cluster addresses of the sale's services and paths in mounted ConfigMaps, made local.</summary>
    static string Localize(string value, V1Alpha1FlashSale fs, Dictionary<string, string> addresses, List<(string MountPath, string Directory)> mounts)
    {
        foreach (var (service, local) in addresses)
        {
            var cluster = Children.ServiceUrl(fs, service);
            value = value.Replace(cluster + ".cluster.local", local, StringComparison.Ordinal).Replace(cluster, local, StringComparison.Ordinal);
        }

        foreach (var (mountPath, directory) in mounts)
        {
            if (value == mountPath || value.StartsWith(mountPath + "/", StringComparison.Ordinal))
            {
                value = directory + value[mountPath.Length..];
            }
        }

        return value;
    }
}
