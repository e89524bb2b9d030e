using Npgsql;

namespace FlashSale.Users.Tests;

public sealed class WalletTests(UsersFixture fixture) : IClassFixture<UsersFixture>
{
    Task<HttpResponseMessage> DebitAsync(string token, Guid orderId, decimal amount, string currency = "EUR") =>
        fixture.SendAsync(HttpMethod.Post, "/api/wallet/debits", token, new { orderId, amount, currency });

    async Task<decimal> BalanceAsync(string token) =>
        (await (await fixture.SendAsync(HttpMethod.Get, "/api/wallet", token)).Content.ReadFromJsonAsync<WalletResponse>())!.Balance;

    async Task<(long Rows, decimal Sum)> LedgerAsync(Guid userId, string? kind = null)
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*), coalesce(sum(amount), 0) FROM users.wallet_ledger WHERE user_id = $1 AND ($2::text IS NULL OR kind = $2)");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = (object?)kind ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetDecimal(1));
    }

    [Fact]
    public async Task ANewUserHasTheConfiguredInitialBalance()
    {
        var (user, token) = await fixture.NewUserAsync();
        var wallet = await (await fixture.SendAsync(HttpMethod.Get, "/api/wallet", token)).Content.ReadFromJsonAsync<WalletResponse>();
        Assert.Equal(new WalletResponse(user.Id, 1000m, "EUR"), wallet);
        Assert.Equal((1L, 1000m), await LedgerAsync(user.Id));
    }

    [Fact]
    public async Task ADebitLowersTheBalanceAndARepeatReturnsTheSameResultWithoutDebitingAgain()
    {
        var (user, token) = await fixture.NewUserAsync();
        var orderId = Guid.CreateVersion7();
        var first = await DebitAsync(token, orderId, 12.34m);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var debit = await first.Content.ReadFromJsonAsync<DebitResponse>();
        Assert.Equal((orderId, user.Id, 12.34m, "EUR", 987.66m), (debit!.OrderId, debit.UserId, debit.Amount, debit.Currency, debit.Balance));

        var again = await DebitAsync(token, orderId, 12.34m);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(debit, await again.Content.ReadFromJsonAsync<DebitResponse>());
        Assert.Equal(987.66m, await BalanceAsync(token));
        Assert.Equal((1L, -12.34m), await LedgerAsync(user.Id, "debit"));
    }

    [Fact]
    public async Task ARepeatWithAnotherAmountOrByAnotherUserIsAnIdempotencyConflict()
    {
        var (_, token) = await fixture.NewUserAsync();
        var (_, otherToken) = await fixture.NewUserAsync();
        var orderId = Guid.CreateVersion7();
        Assert.Equal(HttpStatusCode.OK, (await DebitAsync(token, orderId, 10m)).StatusCode);
        await (await DebitAsync(token, orderId, 11m)).IsProblemAsync(HttpStatusCode.Conflict, "IDEMPOTENCY_MISMATCH");
        await (await DebitAsync(otherToken, orderId, 10m)).IsProblemAsync(HttpStatusCode.Conflict, "IDEMPOTENCY_MISMATCH");
        Assert.Equal(990m, await BalanceAsync(token));
        Assert.Equal(1000m, await BalanceAsync(otherToken));
    }

    [Fact]
    public async Task ADebitOverTheBalanceIsRefusedWithInsufficientFunds()
    {
        var (user, token) = await fixture.NewUserAsync();
        await (await DebitAsync(token, Guid.CreateVersion7(), 1000.01m)).IsProblemAsync(HttpStatusCode.Conflict, "INSUFFICIENT_FUNDS");
        Assert.Equal(1000m, await BalanceAsync(token));
        Assert.Equal((0L, 0m), await LedgerAsync(user.Id, "debit"));
        Assert.Equal(HttpStatusCode.OK, (await DebitAsync(token, Guid.CreateVersion7(), 1000m)).StatusCode);
        Assert.Equal(0m, await BalanceAsync(token));
    }

    [Fact]
    public async Task ADebitInAnotherCurrencyIsRefused()
    {
        var (_, token) = await fixture.NewUserAsync();
        await (await DebitAsync(token, Guid.CreateVersion7(), 5m, "USD")).IsProblemAsync(HttpStatusCode.UnprocessableEntity, "CURRENCY_MISMATCH");
        Assert.Equal(1000m, await BalanceAsync(token));
    }

    [Theory]
    [InlineData("{\"orderId\":\"00000000-0000-0000-0000-000000000000\",\"amount\":5,\"currency\":\"EUR\"}", "orderId")]
    [InlineData("{\"orderId\":\"0190a3c4-0000-7000-8000-000000000001\",\"amount\":0,\"currency\":\"EUR\"}", "amount")]
    [InlineData("{\"orderId\":\"0190a3c4-0000-7000-8000-000000000001\",\"amount\":-5,\"currency\":\"EUR\"}", "amount")]
    [InlineData("{\"orderId\":\"0190a3c4-0000-7000-8000-000000000001\",\"amount\":1.234,\"currency\":\"EUR\"}", "amount")]
    [InlineData("{\"orderId\":\"0190a3c4-0000-7000-8000-000000000001\",\"amount\":5}", "currency")]
    [InlineData("{\"amount\":5,\"currency\":\"EUR\"}", "orderId")]
    public async Task AnInvalidDebitGivesA400NamingTheFieldAndWritesNothing(string json, string field)
    {
        var (user, token) = await fixture.NewUserAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/wallet/debits")
        {
            Headers = { Authorization = new("Bearer", token) },
            Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
        };
        var problem = await (await fixture.Client.SendAsync(request)).IsProblemAsync(HttpStatusCode.BadRequest, "VALIDATION");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal((1L, 1000m), await LedgerAsync(user.Id));
    }

    [Fact]
    public async Task ADebitWithoutATokenIsA401() =>
        await (await DebitAsync("", Guid.CreateVersion7(), 1m)).IsProblemAsync(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task OneHundredConcurrentDebitsOfOneOrderDebitOnceAndAllAnswerTheSameResult()
    {
        var (user, token) = await fixture.NewUserAsync();
        var orderId = Guid.CreateVersion7();
        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => DebitAsync(token, orderId, 25m)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var results = await Task.WhenAll(responses.Select(r => r.Content.ReadFromJsonAsync<DebitResponse>()));
        Assert.Single(results.Distinct());
        Assert.Equal(975m, await BalanceAsync(token));
        Assert.Equal((1L, -25m), await LedgerAsync(user.Id, "debit"));
    }

    [Fact]
    public async Task FiftyConcurrentDebitsWithABalanceForTenLetExactlyTenThroughAndNeverGoNegative()
    {
        var (user, token) = await fixture.NewUserAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => DebitAsync(token, Guid.CreateVersion7(), 100m)));

        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(40, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
            await refused.IsProblemAsync(HttpStatusCode.Conflict, "INSUFFICIENT_FUNDS");
        var balances = await Task.WhenAll(responses.Where(r => r.IsSuccessStatusCode).Select(r => r.Content.ReadFromJsonAsync<DebitResponse>()));
        Assert.Equal([0m, 100m, 200m, 300m, 400m, 500m, 600m, 700m, 800m, 900m], balances.Select(b => b!.Balance).Order());
        Assert.Equal(0m, await BalanceAsync(token));
        Assert.Equal((11L, 0m), await LedgerAsync(user.Id)); // initial + 10 debits, summing to the balance
    }

    [Fact]
    public async Task AnAdminTopsUpAWalletAndOthersGetA403()
    {
        var (user, token) = await fixture.NewUserAsync();
        await (await fixture.SendAsync(HttpMethod.Post, $"/api/users/{user.Id}/wallet/topups", token, new { amount = 50m }))
            .IsProblemAsync(HttpStatusCode.Forbidden);

        var adminToken = await fixture.LoginAsync(UsersFactory.AdminUsername, UsersFactory.AdminPassword);
        var response = await fixture.SendAsync(HttpMethod.Post, $"/api/users/{user.Id}/wallet/topups", adminToken, new { amount = 50.5m });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new WalletResponse(user.Id, 1050.5m, "EUR"), await response.Content.ReadFromJsonAsync<WalletResponse>());
        Assert.Equal(1050.5m, await BalanceAsync(token));
        Assert.Equal((2L, 1050.5m), await LedgerAsync(user.Id));

        await (await fixture.SendAsync(HttpMethod.Post, $"/api/users/{Guid.NewGuid()}/wallet/topups", adminToken, new { amount = 1m }))
            .IsProblemAsync(HttpStatusCode.NotFound, "WALLET_NOT_FOUND");
    }
}
