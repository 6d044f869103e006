namespace LmForge.Server;

/// <summary>Where a <see cref="ChatServer"/> listens and how much it takes on.</summary>
public sealed record ServerOptions
{
    /// <summary>An IP address, or "localhost" (both loopback addresses).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (see <see cref="ChatServer.Address"/>).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>The largest request body accepted; a larger one is refused with 413 before it is read.</summary>
    public int MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>How long a stopping server lets requests in flight finish their response.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Where the tokenizer page looks for gpt2.tiktoken, cl100k_base.tiktoken and o200k_base.tiktoken (those present
    /// are offered beside the served tokenizer); null: <see cref="LmForge.Tokenization.KnownEncodings.DefaultDirectory"/>.
    /// </summary>
    public string? RankDirectory { get; init; }
}
