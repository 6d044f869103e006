using System.Text.Json;

namespace LmForge.Server;

/// <summary>
/// A request the server refuses, answered as OpenAI answers it: the HTTP status and
/// <c>{"error": {"message", "type", "param", "code"}}</c>. <see cref="Param"/> names the offending field
/// (<c>messages[3].role</c>), <see cref="Code"/> is OpenAI's machine-readable reason where it has one.
/// </summary>
public sealed class OpenAiException(int status, string message, string type = OpenAiException.InvalidRequest, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>Seconds a client should wait before retrying (429), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>A 400 about one field of the request.</summary>
    public static OpenAiException Invalid(string? param, string message, string? code = null) => new(400, message, InvalidRequest, param, code);

    /// <summary>A 404 for a model this server does not serve.</summary>
    public static OpenAiException UnknownModel(string requested, string served) =>
        new(404, $"The model '{requested}' does not exist; this server serves '{served}'", InvalidRequest, "model", "model_not_found");

    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", Message);
        json.WriteString("type", Type);
        json.WriteString("param", Param);
        json.WriteString("code", Code);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
