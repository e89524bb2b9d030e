using FlashSale.Operator.Entities;
using FlashSale.Sales;
using k8s.Models;

namespace FlashSale.Operator.Controller;

/// <summary>The FlashSale spec as the sale domain sees it, and the checks of the CRD's rules repeated in code.</summary>
public static class SaleMapping
{
    /// <summary>The sale, and every error of the spec naming its field (empty when valid).</summary>
    public static (SaleDefinition? Sale, IReadOnlyList<string> Errors) Map(V1Alpha1FlashSale fs)
    {
        var errors = new List<string>();
        var spec = fs.Spec;
        if (spec is null)
        {
            return (null, ["spec is required"]);
        }

        var timeout = TimeSpan.FromMinutes(15);
        if (spec.PaymentTimeout is { } text && !Durations.TryParse(text, out timeout))
        {
            errors.Add($"spec.paymentTimeout '{text}' is not a duration (e.g. 15m)");
        }

        var products = (spec.Products ?? []).Select(p => new ProductDefinition(
            p.Sku ?? "", p.Name ?? p.Sku ?? "", p.Price, p.Currency ?? "EUR", p.Stock, p.PerUserLimit)).ToList();
        var sale = new SaleDefinition(fs.Namespace() ?? "default", fs.Name(), spec.Schedule?.StartsAt ?? default, spec.Schedule?.EndsAt ?? default, timeout, products);
        if (spec.Schedule is null)
        {
            errors.Add("spec.schedule is required");
        }

        errors.AddRange(sale.Validate());
        if (spec.Schedule?.PrescaleMinutes is < 0)
        {
            errors.Add("spec.schedule.prescaleMinutes must be >= 0");
        }

        if (string.IsNullOrWhiteSpace(spec.Image?.Repository))
        {
            errors.Add("spec.image.repository is required");
        }

        if (string.IsNullOrWhiteSpace(spec.Image?.Tag))
        {
            errors.Add("spec.image.tag is required");
        }

        if (spec.CleanupPolicy is not (null or "Retain" or "Delete"))
        {
            errors.Add($"spec.cleanupPolicy '{spec.CleanupPolicy}' must be Retain or Delete");
        }

        CheckSecret(errors, "spec.infrastructure.postgres.secretRef", spec.Infrastructure?.Postgres?.SecretRef);
        CheckSecret(errors, "spec.infrastructure.redis.secretRef", spec.Infrastructure?.Redis?.SecretRef);
        CheckSecret(errors, "spec.infrastructure.rabbitmq.secretRef", spec.Infrastructure?.RabbitMq?.SecretRef);
        CheckSecret(errors, "spec.auth.signingKeySecretRef", spec.Auth?.SigningKeySecretRef);
        for (var i = 0; i < (spec.Auth?.VerificationKeySecretRefs?.Count ?? 0); i++)
        {
            CheckSecret(errors, $"spec.auth.verificationKeySecretRefs[{i}]", spec.Auth!.VerificationKeySecretRefs![i]);
        }

        if (spec.Auth?.AdminSecretRef is { } admin && string.IsNullOrWhiteSpace(admin.Name))
        {
            errors.Add("spec.auth.adminSecretRef.name is required");
        }

        if (spec.Notifications?.SmtpSecretRef is { } smtp && string.IsNullOrWhiteSpace(smtp.Name))
        {
            errors.Add("spec.notifications.smtpSecretRef.name is required");
        }

        for (var i = 0; i < (spec.Ingress?.TrustedProxyNetworks?.Count ?? 0); i++)
        {
            var cidr = spec.Ingress!.TrustedProxyNetworks![i];
            if (!System.Net.IPNetwork.TryParse(cidr ?? "", out _))
            {
                errors.Add($"spec.ingress.trustedProxyNetworks[{i}] '{cidr}' is not a network in CIDR notation (e.g. 10.0.0.0/8)");
            }
        }

        foreach (var service in SaleService.All)
        {
            var s = service.SpecIn(spec);
            var path = $"spec.services.{service.Name}";
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < (s?.Env?.Count ?? 0); i++)
            {
                var name = s!.Env![i].Name ?? "";
                if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z_][A-Za-z0-9_]*$"))
                {
                    errors.Add($"{path}.env[{i}].name '{name}' must be letters, digits and '_', not starting with a digit");
                }
                else if (!names.Add(name))
                {
                    errors.Add($"{path}.env[{i}].name '{name}' is set twice");
                }
                else if (errors.Count == 0 && spec.Infrastructure is not null && spec.Auth is not null && Children.IsOwnedEnvName(fs, service, name))
                {
                    errors.Add($"{path}.env[{i}].name '{name}' is set by the operator");
                }
            }

            if (s?.Replicas is < 0)
            {
                errors.Add($"{path}.replicas must be >= 0");
            }

            if (s?.Autoscaling is { } a)
            {
                if (a.MinReplicas < 1)
                {
                    errors.Add($"{path}.autoscaling.minReplicas must be >= 1");
                }

                if (a.MaxReplicas < a.MinReplicas)
                {
                    errors.Add($"{path}.autoscaling.maxReplicas must be >= minReplicas");
                }

                if (a.TargetCPUUtilizationPercentage is < 1 or > 100)
                {
                    errors.Add($"{path}.autoscaling.targetCPUUtilizationPercentage must be between 1 and 100");
                }
            }
        }

        return (errors.Count == 0 ? sale : null, errors);
    }

    static void CheckSecret(List<string> errors, string path, SecretKeyRef? reference)
    {
        if (string.IsNullOrWhiteSpace(reference?.Name))
        {
            errors.Add($"{path}.name is required");
        }

        if (string.IsNullOrWhiteSpace(reference?.Key))
        {
            errors.Add($"{path}.key is required");
        }
    }
}
