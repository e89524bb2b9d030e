using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FlashSale.ServiceDefaults.Tests;

public sealed class MigrationTests
{
    static ServiceProvider Replica(string connectionString) => new ServiceCollection()
        .AddSingleton(NpgsqlDataSource.Create(connectionString))
        .AddSingleton(typeof(Microsoft.Extensions.Logging.ILogger<>), typeof(NullLogger<>))
        .AddMigrations("shop", typeof(MigrationTests).Assembly)
        .BuildServiceProvider();

    static async Task StartAsync(ServiceProvider replica)
    {
        foreach (var hosted in replica.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ReplicasStartingAtOnceApplyEachMigrationExactlyOnceInNameOrder()
    {
        var db = await Infra.CreateDatabaseAsync("sdmig");
        var replicas = Enumerable.Range(0, 6).Select(_ => Replica(db)).ToList();
        await Task.WhenAll(replicas.Select(r => Task.Run(() => StartAsync(r))));
        await StartAsync(Replica(db)); // a restart applies nothing (002 would fail on its primary key)

        await using var dataSource = NpgsqlDataSource.Create(db);
        await using var versions = dataSource.CreateCommand("SELECT string_agg(version, ',' ORDER BY version) FROM shop.schema_versions");
        Assert.Equal("001_create_items,002_seed_items,003_index_items", await versions.ExecuteScalarAsync());
        await using var items = dataSource.CreateCommand("SELECT count(*) FROM shop.items");
        Assert.Equal(1L, await items.ExecuteScalarAsync());
        // 003 ran outside a transaction (CREATE INDEX CONCURRENTLY fails inside one) and built a valid index.
        await using var index = dataSource.CreateCommand("""
            SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'shop' AND c.relname = 'items_by_name'
            """);
        Assert.Equal(true, await index.ExecuteScalarAsync());
        foreach (var r in replicas) await r.DisposeAsync();
    }

    [Fact]
    public void MigrationsAreFoundAsEmbeddedResourcesInNameOrder() =>
        Assert.Equal(["001_create_items", "002_seed_items", "003_index_items"], MigrationRunner.Find(typeof(MigrationTests).Assembly).Select(m => m.Version));

    [Fact]
    public void MigrationsOfALibraryJoinTheServicesInOneVersionOrder() =>
        Assert.Equal(["000_inbox", "001_create_items", "002_seed_items", "003_index_items"],
            MigrationRunner.Find(typeof(MigrationTests).Assembly, typeof(FlashSale.Messaging.Inbox).Assembly).Select(m => m.Version));

    [Fact]
    public void ASchemaNameThatIsNotAPlainIdentifierIsRefused() =>
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddMigrations("shop; DROP", typeof(MigrationTests).Assembly));
}
