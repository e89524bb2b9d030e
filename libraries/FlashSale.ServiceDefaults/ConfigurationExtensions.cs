using Microsoft.Extensions.Options;

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

    /// <summary>
    /// The one way a service reads a settings section: <typeparamref name="T"/> bound to <paramref name="section"/>, checked by
    /// <paramref name="error"/> (null when valid, else a message naming the setting) when the host starts, not at first use.
    /// </summary>
    public static OptionsBuilder<T> AddCheckedOptions<T>(this IServiceCollection services, string section, Func<T, string?> error) where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(new CheckOptions<T>(Options.DefaultName, error));
        return services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
    }

    sealed class CheckOptions<T>(string? name, Func<T, string?> error) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? optionsName, T options) =>
            optionsName != name ? ValidateOptionsResult.Skip : error(options) is { } message ? ValidateOptionsResult.Fail(message) : ValidateOptionsResult.Success;
    }
}
