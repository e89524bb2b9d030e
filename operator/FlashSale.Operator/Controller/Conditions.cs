using k8s.Models;

namespace FlashSale.Operator.Controller;

public static class Conditions
{
    /// <summary>
    /// Sets a condition the way apimachinery's meta.SetStatusCondition does: lastTransitionTime moves only when the status changes.
    /// Returns true when anything changed.
    /// </summary>
    public static bool SetCondition(this IList<V1Condition> conditions, V1Condition condition, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(condition.Type);
        var existing = conditions.FirstOrDefault(c => c.Type == condition.Type);
        if (existing is null)
        {
            if (condition.LastTransitionTime == default)
            {
                condition.LastTransitionTime = now.UtcDateTime;
            }

            conditions.Add(condition);
            return true;
        }

        var changed = false;
        if (existing.Status != condition.Status)
        {
            existing.Status = condition.Status;
            existing.LastTransitionTime = condition.LastTransitionTime == default ? now.UtcDateTime : condition.LastTransitionTime;
            changed = true;
        }

        if (existing.Reason != condition.Reason || existing.Message != condition.Message || existing.ObservedGeneration != condition.ObservedGeneration)
        {
            existing.Reason = condition.Reason;
            existing.Message = condition.Message;
            existing.ObservedGeneration = condition.ObservedGeneration;
            changed = true;
        }

        return changed;
    }

    public static V1Condition? Find(this IEnumerable<V1Condition>? conditions, string type) => conditions?.FirstOrDefault(c => c.Type == type);

    public static bool IsTrue(this IEnumerable<V1Condition>? conditions, string type) => conditions.Find(type)?.Status == "True";
}
