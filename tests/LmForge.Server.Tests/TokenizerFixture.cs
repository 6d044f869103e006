using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LmForge.Tests.Shared;
using LmForge.Tokenization;
using LmForge.Training.Checkpoints;

namespace LmForge.Server.Tests;

/// <summary>
/// Two servers for the tokenizer page's tests: `lmforge serve` on a random chat checkpoint, with gpt2, cl100k_base and
/// o200k_base beside its tokenizer (rank files written by tiktoken, npm, into a temporary directory), and
/// `lmforge tokenizer serve -t gpt2` (a tokenizer, no model).
/// </summary>
public sealed class TokenizerFixture : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("lmforge-tokenizer-page-").FullName;
    private readonly Dictionary<string, BpeTokenizer> _tokenizers = [];

    public string Checkpoint => Path.Combine(_root, "checkpoint");

    public string RankDirectory => Path.Combine(_root, "ranks");

    public ChatServer Server { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public ChatServer TokenizerOnly { get; private set; } = null!;

    public HttpClient TokenizerOnlyClient { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ChatCheckpoint.Create(Checkpoint);
        await WriteRankFilesAsync(RankDirectory);
        Server = await ChatServer.StartAsync(ServedModel.Load(Checkpoint, ServerFixture.ModelName, maxBatch: 2, queueCapacity: 4), new ServerOptions { Port = 0, RankDirectory = RankDirectory });
        Client = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
        TokenizerOnly = await ChatServer.StartAsync(new ServedTokenizers(Tokenizer("gpt2"), "gpt2", RankDirectory), new ServerOptions { Port = 0, RankDirectory = RankDirectory });
        TokenizerOnlyClient = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = TokenizerOnly.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        TokenizerOnlyClient.Dispose();
        await Server.DisposeAsync();
        await TokenizerOnly.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The library's tokenizer for an encoding id of the server ("model" is the checkpoint's).</summary>
    public BpeTokenizer Tokenizer(string encoding)
    {
        lock (_tokenizers)
        {
            if (!_tokenizers.TryGetValue(encoding, out var tokenizer))
            {
                tokenizer = encoding == ServedTokenizers.ModelId ? CheckpointTokenizer.Load(Checkpoint) : KnownEncodings.Load(encoding, RankDirectory);
                _tokenizers[encoding] = tokenizer;
            }
            return tokenizer;
        }
    }

    public static async Task<(int Status, JsonElement Body)> PostAsync(HttpClient client, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    public Task<(int Status, JsonElement Body)> PostAsync(string path, string json) => PostAsync(Client, path, json);

    public Task<(int Status, JsonElement Body)> PostAsync(string path, object body) => PostAsync(Client, path, JsonSerializer.Serialize(body));

    // tiktoken (npm) writes its rank files: tests/oracles/tiktoken-oracle.mjs ranks DIR
    private static async Task WriteRankFilesAsync(string directory)
    {
        string oracles = NodeClients.OraclesDirectory();
        Assert.True(Directory.Exists(Path.Combine(oracles, "node_modules")), $"{oracles}/node_modules is missing: run `npm ci` there (./test.sh does)");
        var start = new ProcessStartInfo("node") { WorkingDirectory = oracles, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "tiktoken-oracle.mjs", "ranks", directory }) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"tiktoken-oracle.mjs ranks failed: {await errors}");
    }
}
