namespace FlashSale.ServiceDefaults;

public static class ConfigurationExtensions
{
    /// <summary>Reads a configuration value that must be present; the exception names the full configuration path.</summary>
    public static string GetRequiredValue(this IConfiguration configuration, string key)
    {
        var value = configuration[key];
        if (!string.IsNullOrWhiteSpace(value)) return value;
        var path = configuration is IConfigurationSection section ? ConfigurationPath.Combine(section.Path, key) : key;
        throw new InvalidOperationException($"Configuration value '{path}' is missing");
    }
}
