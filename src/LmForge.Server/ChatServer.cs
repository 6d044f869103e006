using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using LmForge.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LmForge.Server;

/// <summary>
/// An OpenAI-compatible HTTP server for one model, on ASP.NET Core's Kestrel:
/// <list type="bullet">
/// <item><c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>, answered whole or streamed as server-sent
/// events, every request decoding in the model's one batched <see cref="GenerationEngine"/> (continuous batching);</item>
/// <item><c>GET /v1/models</c>, <c>GET /v1/models/{id}</c>, <c>GET /health</c>;</item>
/// <item><c>GET /</c>: the web chat page, one self-contained file that fetches nothing from elsewhere;</item>
/// <item><c>GET /tokenizer</c>: the tokenizer page (text split into its tokens as it is typed, a chat through the
/// template), backed by <c>POST /v1/tokenize</c>, <c>POST /v1/detokenize</c> and <c>GET /v1/tokenize/encodings</c>
/// (<see cref="TokenizerApi"/>).</item>
/// </list>
/// A server started with <see cref="StartAsync(ServedTokenizers, ServerOptions, TextWriter?, CancellationToken)"/> has
/// no model: it serves the tokenizer page and its endpoints only (<c>lmforge tokenizer serve</c>), on the same host.
/// Every refusal is OpenAI's error JSON with its status. A client that disconnects stops its generation at once.
/// <code>
/// await using var server = await ChatServer.StartAsync(ServedModel.Load(dir), new ServerOptions { Port = 8000 });
/// await server.WaitForShutdownAsync(stopToken);
/// </code>
/// </summary>
public sealed class ChatServer : IAsyncDisposable
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // the pages may talk to this server and nothing else
    private const string PagePolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

    private readonly WebApplication _app;
    private readonly ServedModel? _model;
    private readonly ServedTokenizers _tokenizers;
    private readonly TextWriter? _log;
    private readonly byte[] _page;
    private readonly byte[] _tokenizerPage;
    private readonly int _maxBodyBytes;

    private ChatServer(WebApplication app, ServedModel? model, ServedTokenizers tokenizers, int maxBodyBytes, TextWriter? log)
    {
        _app = app;
        _maxBodyBytes = maxBodyBytes;
        _model = model;
        _tokenizers = tokenizers;
        _log = log;
        _page = Resource("LmForge.Server.ChatPage.index.html");
        _tokenizerPage = Resource("LmForge.Server.ChatPage.tokenizer.html");
        Map(app);
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(ChatServer).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is missing from LmForge.Server's resources");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The address it listens on (with the port chosen when <see cref="ServerOptions.Port"/> was 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The model it serves.</summary>
    /// <exception cref="InvalidOperationException">It serves a tokenizer only.</exception>
    public ServedModel Model => _model ?? throw new InvalidOperationException("this server serves a tokenizer only, no model");

    /// <summary>The encodings of the tokenizer page and <c>/v1/tokenize</c>.</summary>
    public ServedTokenizers Tokenizers => _tokenizers;

    /// <summary>
    /// Starts listening. The server owns <paramref name="model"/> from here on and disposes it. <paramref name="log"/>
    /// gets one line per finished request (null: none).
    /// </summary>
    /// <exception cref="IOException">The address is taken or cannot be listened on (one line, naming it).</exception>
    /// <exception cref="ArgumentException">The host is not an IP address or "localhost".</exception>
    public static Task<ChatServer> StartAsync(ServedModel model, ServerOptions options, TextWriter? log = null, CancellationToken cancellation = default)
    {
        ServedTokenizers tokenizers;
        try
        {
            tokenizers = new ServedTokenizers(model.Tokenizer, model.Name, options.RankDirectory, ServedTokenizers.ModelId);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return StartAsync(model, tokenizers, options, log, cancellation);
    }

    /// <summary>
    /// Starts a server with no model: the tokenizer page at <c>/tokenizer</c> (<c>/</c> leads there) and its endpoints,
    /// everything else 404.
    /// </summary>
    /// <exception cref="IOException">The address is taken or cannot be listened on (one line, naming it).</exception>
    /// <exception cref="ArgumentException">The host is not an IP address or "localhost".</exception>
    public static Task<ChatServer> StartAsync(ServedTokenizers tokenizers, ServerOptions options, TextWriter? log = null, CancellationToken cancellation = default) =>
        StartAsync(null, tokenizers, options, log, cancellation);

    // The one way the app is built, with or without a model.
    private static async Task<ChatServer> StartAsync(ServedModel? model, ServedTokenizers tokenizers, ServerOptions options, TextWriter? log, CancellationToken cancellation)
    {
        IPAddress? address = null;
        if (options.Host != "localhost" && !IPAddress.TryParse(options.Host, out address))
        {
            model?.Dispose();
            throw new ArgumentException($"host '{options.Host}' is not an IP address or localhost (use 127.0.0.1 for this machine only, 0.0.0.0 for every network)");
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, CallerOwnedLifetime>(); // the caller stops it, not Ctrl+C inside the host
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // past the limit a body is read and dropped up to this cap, so its client hears the 413 rather than a reset
            kestrel.Limits.MaxRequestBodySize = Math.Max(4L * options.MaxBodyBytes, options.MaxBodyBytes + (16L << 20));
            if (address is null) kestrel.ListenLocalhost(options.Port);
            else kestrel.Listen(address, options.Port);
        });
        var app = builder.Build();
        var server = new ChatServer(app, model, tokenizers, options.MaxBodyBytes, log);
        try
        {
            await app.StartAsync(cancellation).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            string where = $"{options.Host}:{options.Port}";
            throw e.InnerException is AddressInUseException
                ? new IOException($"cannot listen on {where}: the port is taken (is another server running there? choose another with --port)", e)
                : new IOException($"cannot listen on {where}: {e.Message}", e);
        }
        string listening = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(listening.Replace("://[::]", "://localhost", StringComparison.Ordinal).Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal));
        return server;
    }

    /// <summary>Serves until <paramref name="stop"/> is cancelled, then stops (requests in flight are cut short).</summary>
    public async Task WaitForShutdownAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _model?.Dispose();
        }
    }

    private void Map(WebApplication app)
    {
        app.Use(Errors);
        app.MapMethods("/tokenizer", ["GET", "HEAD"], context => WritePageAsync(context, _tokenizerPage));
        app.MapGet("/v1/tokenize/encodings", context => WriteJsonAsync(context, 200, json => TokenizerApi.WriteEncodings(json, _tokenizers, chatPage: _model is not null)));
        app.MapPost("/v1/tokenize", async context =>
        {
            using var body = await ReadJsonAsync(context).ConfigureAwait(false);
            await WriteJsonAsync(context, 200, TokenizerApi.Tokenize(body.RootElement, _tokenizers)).ConfigureAwait(false);
        });
        app.MapPost("/v1/detokenize", async context =>
        {
            using var body = await ReadJsonAsync(context).ConfigureAwait(false);
            await WriteJsonAsync(context, 200, TokenizerApi.Detokenize(body.RootElement, _tokenizers)).ConfigureAwait(false);
        });
        if (_model is not { } model)
        {
            app.MapMethods("/", ["GET", "HEAD"], context =>
            {
                context.Response.Redirect("/tokenizer");
                return Task.CompletedTask;
            });
            app.MapGet("/health", context => WriteJsonAsync(context, 200, json =>
            {
                json.WriteStartObject();
                json.WriteString("status", "ok");
                json.WriteString("tokenizer", _tokenizers.Label);
                json.WriteEndObject();
            }));
            return;
        }
        MapModel(app, model);
    }

    private static Task WritePageAsync(HttpContext context, byte[] page)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.ContentSecurityPolicy = PagePolicy;
        context.Response.ContentLength = page.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync(page, context.RequestAborted).AsTask();
    }

    private void MapModel(WebApplication app, ServedModel model)
    {
        app.MapMethods("/", ["GET", "HEAD"], context => WritePageAsync(context, _page));
        app.MapGet("/health", context => WriteJsonAsync(context, 200, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", "ok");
            json.WriteString("model", model.Name);
            json.WriteNumber("context", model.Capacity);
            json.WriteNumber("max_batch", model.Engine.MaxBatch);
            json.WriteNumber("running", model.Engine.Running);
            json.WriteNumber("waiting", model.Engine.Waiting);
            json.WriteEndObject();
        }));
        app.MapGet("/v1/models", context => WriteJsonAsync(context, 200, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            WriteModel(json);
            json.WriteEndArray();
            json.WriteEndObject();
        }));
        app.MapGet("/v1/models/{id}", context =>
        {
            string id = (string)context.Request.RouteValues["id"]!;
            if (id != model.Name) throw OpenAiException.UnknownModel(id, model.Name);
            return WriteJsonAsync(context, 200, WriteModel);
        });
        app.MapPost("/v1/chat/completions", async context =>
        {
            using var body = await ReadJsonAsync(context).ConfigureAwait(false);
            await GenerateAsync(context, GenerationRequestReader.ReadChat(body.RootElement, model), chat: true).ConfigureAwait(false);
        });
        app.MapPost("/v1/completions", async context =>
        {
            using var body = await ReadJsonAsync(context).ConfigureAwait(false);
            await GenerateAsync(context, GenerationRequestReader.ReadCompletion(body.RootElement, model), chat: false).ConfigureAwait(false);
        });
    }

    private void WriteModel(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("id", Model.Name);
        json.WriteString("object", "model");
        json.WriteNumber("created", Model.Created);
        json.WriteString("owned_by", "lmforge");
        json.WriteEndObject();
    }

    // Every refusal leaves as OpenAI's error JSON: thrown OpenAiExceptions, Kestrel's own (body too large), routing's
    // empty 404/405s, and unexpected failures (500, logged).
    private async Task Errors(HttpContext context, RequestDelegate next)
    {
        OpenAiException? error;
        try
        {
            await next(context).ConfigureAwait(false);
            int status = context.Response.StatusCode;
            if (status < 400 || context.Response.HasStarted) return;
            error = new OpenAiException(status, status switch
            {
                404 => $"{context.Request.Method} {context.Request.Path}: no such endpoint",
                405 => $"{context.Request.Method} {context.Request.Path}: method not allowed",
                _ => $"{context.Request.Method} {context.Request.Path}: status {status}",
            }, code: status == 404 ? "unknown_url" : null);
        }
        catch (OpenAiException e)
        {
            error = e;
        }
        catch (BadHttpRequestException e)
        {
            error = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(null)
                : new OpenAiException(e.StatusCode, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client left
        }
        catch (Exception e)
        {
            _log?.WriteLine($"error: {context.Request.Method} {context.Request.Path}: {e}");
            error = new OpenAiException(500, $"the server failed: {e.Message}", "server_error");
        }
        if (context.Response.HasStarted) return;
        context.Response.Clear();
        if (error.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await WriteJsonAsync(context, error.Status, error.WriteJson).ConfigureAwait(false);
        _log?.WriteLine($"{DateTime.Now:HH:mm:ss} {context.Request.Method} {context.Request.Path} {error.Status}: {error.Message}");
    }

    // The body as JSON: at most the configured size, valid UTF-8, well-formed. A body announced too large is refused
    // before it is sent when the client asked first (Expect: 100-continue, as curl does); otherwise the excess is read
    // and dropped (up to Kestrel's cap) so the client is still listening when the 413 comes.
    private async Task<JsonDocument> ReadJsonAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > _maxBodyBytes && request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase))
            throw TooLarge(request.ContentLength);
        using var buffer = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 << 10);
        long total = 0;
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total <= _maxBodyBytes) buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if (total > _maxBodyBytes) throw TooLarge(total);
        var bytes = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
        try
        {
            StrictUtf8.GetCharCount(bytes.Span);
        }
        catch (DecoderFallbackException e)
        {
            throw OpenAiException.Invalid(null, string.Create(CultureInfo.InvariantCulture, $"the request body is not valid UTF-8 (bad byte at offset {e.Index})"));
        }
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw OpenAiException.Invalid(null, bytes.Length == 0 ? "the request body is empty; expected a JSON object" : $"the request body is not valid JSON: {e.Message}");
        }
    }

    private OpenAiException TooLarge(long? length) => new(413, length is { } bytes
        ? string.Create(CultureInfo.InvariantCulture, $"the request body is {bytes} bytes; the limit is {_maxBodyBytes} bytes")
        : string.Create(CultureInfo.InvariantCulture, $"the request body is larger than the limit of {_maxBodyBytes} bytes"), code: "request_too_large");

    private async Task GenerateAsync(HttpContext context, GenerationRequest request, bool chat)
    {
        var started = Stopwatch.StartNew();
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var updates = Model.Engine.GenerateAsync(request.Prompt, request.Options, cancellation.Token).GetAsyncEnumerator(cancellation.Token);
        await using var _ = updates.ConfigureAwait(false);
        GenerationUpdate last = default;
        bool more;
        try
        {
            more = await updates.MoveNextAsync().ConfigureAwait(false); // waits for a slot and the first token
        }
        catch (GenerationQueueFullException e)
        {
            throw new OpenAiException(429, $"the server is busy ({e.Message})", "rate_limit_error", code: "rate_limit_exceeded") { RetryAfterSeconds = 1 };
        }
        catch (ArgumentException e)
        {
            throw OpenAiException.Invalid(null, e.Message);
        }

        if (!request.Stream)
        {
            var text = new StringBuilder();
            for (; more; more = await updates.MoveNextAsync().ConfigureAwait(false))
            {
                last = updates.Current;
                text.Append(last.Text);
            }
            await WriteJsonAsync(context, 200, json =>
            {
                json.WriteStartObject();
                WriteHeader(json, id, chat ? "chat.completion" : "text_completion", created);
                json.WriteStartArray("choices");
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                if (chat)
                {
                    json.WriteStartObject("message");
                    json.WriteString("role", "assistant");
                    json.WriteString("content", text.ToString());
                    json.WriteNull("refusal");
                    json.WriteEndObject();
                }
                else
                {
                    json.WriteString("text", text.ToString());
                }
                json.WriteNull("logprobs");
                json.WriteString("finish_reason", FinishReasonName(last.FinishReason));
                json.WriteEndObject();
                json.WriteEndArray();
                WriteUsage(json, last);
                json.WriteEndObject();
            }).ConfigureAwait(false);
            Log(context, last, started, stopped: false);
            return;
        }

        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies: pass events on as they come
        var buffer = new ArrayBufferWriter<byte>(512);
        using var json = new Utf8JsonWriter(buffer, JsonOptions);
        string objectName = chat ? "chat.completion.chunk" : "text_completion";
        async Task Send(Action<Utf8JsonWriter> write)
        {
            buffer.ResetWrittenCount();
            json.Reset();
            write(json);
            json.Flush();
            await response.WriteAsync("data: ", cancellation.Token).ConfigureAwait(false);
            await response.Body.WriteAsync(buffer.WrittenMemory, cancellation.Token).ConfigureAwait(false);
            await response.WriteAsync("\n\n", cancellation.Token).ConfigureAwait(false);
            await response.Body.FlushAsync(cancellation.Token).ConfigureAwait(false);
        }
        void Chunk(Utf8JsonWriter json, string? content, bool role, FinishReason? finish)
        {
            json.WriteStartObject();
            WriteHeader(json, id, objectName, created);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            if (chat)
            {
                json.WriteStartObject("delta");
                if (role) json.WriteString("role", "assistant");
                if (content is not null) json.WriteString("content", content);
                json.WriteEndObject();
            }
            else
            {
                json.WriteString("text", content ?? "");
            }
            json.WriteNull("logprobs");
            if (finish is null) json.WriteNull("finish_reason");
            else json.WriteString("finish_reason", FinishReasonName(finish));
            json.WriteEndObject();
            json.WriteEndArray();
            if (request.IncludeUsage) json.WriteNull("usage");
            json.WriteEndObject();
        }

        try
        {
            if (chat) await Send(j => Chunk(j, "", role: true, finish: null)).ConfigureAwait(false);
            for (; more; more = await updates.MoveNextAsync().ConfigureAwait(false))
            {
                last = updates.Current;
                if (last.Text.Length > 0) await Send(j => Chunk(j, last.Text, role: false, finish: null)).ConfigureAwait(false);
            }
            await Send(j => Chunk(j, chat ? null : "", role: false, finish: last.FinishReason ?? FinishReason.Stop)).ConfigureAwait(false);
            if (request.IncludeUsage)
            {
                await Send(j =>
                {
                    j.WriteStartObject();
                    WriteHeader(j, id, objectName, created);
                    j.WriteStartArray("choices");
                    j.WriteEndArray();
                    WriteUsage(j, last);
                    j.WriteEndObject();
                }).ConfigureAwait(false);
            }
            await response.WriteAsync("data: [DONE]\n\n", cancellation.Token).ConfigureAwait(false);
            Log(context, last, started, stopped: false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Log(context, last, started, stopped: true); // the client left (or the server is stopping): its slot is already free
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // the stream has begun: the failure goes in it, as OpenAI's streams report errors
            _log?.WriteLine($"error: {context.Request.Path}: {e}");
            await Send(new OpenAiException(500, $"generation failed: {e.Message}", "server_error").WriteJson).ConfigureAwait(false);
        }
    }

    private void WriteHeader(Utf8JsonWriter json, string id, string objectName, long created)
    {
        json.WriteString("id", id);
        json.WriteString("object", objectName);
        json.WriteNumber("created", created);
        json.WriteString("model", Model.Name);
        json.WriteNull("system_fingerprint");
    }

    private static void WriteUsage(Utf8JsonWriter json, GenerationUpdate last)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", last.PromptTokens);
        json.WriteNumber("completion_tokens", last.CompletionTokens);
        json.WriteNumber("total_tokens", last.PromptTokens + last.CompletionTokens);
        json.WriteEndObject();
    }

    private static string FinishReasonName(FinishReason? reason) => reason == FinishReason.Stop ? "stop" : "length";

    private void Log(HttpContext context, GenerationUpdate last, Stopwatch started, bool stopped)
    {
        if (_log is null) return;
        double seconds = started.Elapsed.TotalSeconds;
        string outcome = stopped ? "client left" : FinishReasonName(last.FinishReason);
        _log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.Now:HH:mm:ss} {context.Request.Method} {context.Request.Path} 200: {last.PromptTokens} prompt + {last.CompletionTokens} reply tokens in {seconds:F2} s ({outcome})"));
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions)) write(json);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    // The host never listens for Ctrl+C itself: whoever started the server stops it.
    private sealed class CallerOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
