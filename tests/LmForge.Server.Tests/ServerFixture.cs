using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LmForge.Inference;
using LmForge.Models.Checkpoints;
using LmForge.Tests.Shared;
using LmForge.Tokenization.Chat;
using LmForge.Training.Checkpoints;

namespace LmForge.Server.Tests;

/// <summary>
/// One running server for a test class: a random chat checkpoint on disk, loaded as `lmforge serve` loads it, on a
/// free loopback port, with a client for it.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ModelName = "test-chat";

    public string Checkpoint { get; } = ChatCheckpoint.Create(Directory.CreateTempSubdirectory("lmforge-server-test-").FullName);

    public ChatServer Server { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ChatServer.StartAsync(ServedModel.Load(Checkpoint, ModelName, maxBatch: 4, queueCapacity: 8), new ServerOptions { Port = 0 });
        Client = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(Checkpoint, recursive: true);
    }

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Client.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>The greedy reply the library gives for a conversation, straight from the checkpoint, with no server.</summary>
    public string LibraryReply(IReadOnlyList<ChatMessage> messages, int maxTokens)
    {
        var tokenizer = CheckpointTokenizer.Load(Checkpoint);
        using var model = ModelCheckpoint.Load(Checkpoint, trainable: false);
        var prompt = new ChatPrompt(tokenizer);
        using var session = new InferenceSession(model, tokenizer);
        return string.Concat(session.Stream(prompt.Render(messages), new SamplingOptions(Temperature: 0, MaxTokens: maxTokens) { StopTokens = prompt.StopTokens }));
    }

    /// <summary>How many tokens a conversation's prompt takes.</summary>
    public int PromptTokens(IReadOnlyList<ChatMessage> messages) => new ChatPrompt(CheckpointTokenizer.Load(Checkpoint)).Render(messages).Length;

    /// <summary>Waits until no request is decoding or waiting (a freed slot shows here).</summary>
    public async Task<bool> IdleWithinAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            var health = await Client.GetFromJsonAsync<JsonElement>("/health");
            if (health.GetProperty("running").GetInt32() == 0 && health.GetProperty("waiting").GetInt32() == 0) return true;
            await Task.Delay(20);
        }
        return false;
    }

    /// <summary>The data lines of a server-sent event stream, up to and including [DONE].</summary>
    public static List<string> Events(string stream) =>
        [.. stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.StartsWith("data: ", StringComparison.Ordinal) ? e[6..] : throw new FormatException($"not a data event: '{e}'"))];
}
