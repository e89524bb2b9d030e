using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FlashSale.ServiceDefaults;

/// <summary>ProblemDetails carrying a machine-readable <c>reason</c> (e.g. SOLD_OUT, INSUFFICIENT_FUNDS, VALIDATION).</summary>
public static class Problems
{
    public const string Validation = "VALIDATION";
    public const string MalformedRequest = "MALFORMED_REQUEST";
    public const string RequestTooLarge = "REQUEST_TOO_LARGE";

    public static ProblemHttpResult ReasonProblem(int status, string reason, string title, string? detail = null) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Extensions = { ["reason"] = reason },
        });

    /// <summary>400 with reason VALIDATION and an <c>errors</c> map (field name -> messages).</summary>
    public static ProblemHttpResult ValidationProblem(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "One or more fields are invalid.",
            Detail = detail,
            Extensions = { ["reason"] = Validation },
        });
}
