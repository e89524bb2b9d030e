using System.Text.Json;
using System.Text.Json.Serialization;
using FlashSale.Kubernetes.Models;

namespace FlashSale.Operator.Entities;

/// <summary>JSON metadata of the operator's own kinds; same settings as the client's built-in context (nulls never sent).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(KubernetesTimeConverter)])]
[JsonSerializable(typeof(V1Alpha1FlashSale))]
public sealed partial class OperatorJsonContext : JsonSerializerContext;
