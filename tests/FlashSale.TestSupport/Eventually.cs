namespace FlashSale.TestSupport;

/// <summary>Polls a condition of an asynchronous system until it holds or a deadline passes (then the test fails).</summary>
public static class Eventually
{
    /// <summary>
    /// Waits until <paramref name="condition"/> returns true. An exception from the condition counts as "not yet" (a server
    /// may be restarting) until the deadline, where it is rethrown; a condition still false then throws TimeoutException.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try { if (await condition()) return; }
            catch (Exception) when (DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("timed out waiting until " + what);
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100));
        }
    }
}
