using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace FlashSale.Sales;

/// <summary>
/// A Lua script sent as EVALSHA by its precomputed SHA-1. StackExchange.Redis's string overload looks the whole script text
/// up in a hashtable on every call; this skips that. When Redis does not know
/// the script (restarted, SCRIPT FLUSH), the call is repeated once as EVAL, which also loads it again.
/// </summary>
public sealed class RedisScript
{
    public RedisScript(string text)
    {
        Text = text;
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    public string Text { get; }
    public byte[] Sha1 { get; }

    public async Task<RedisResult> EvaluateAsync(IDatabaseAsync db, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await db.ScriptEvaluateAsync(Sha1, keys, values);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(Text, keys, values);
        }
    }
}
