using LmForge.Data.Corpora;
using LmForge.Tokenization;

namespace LmForge.Data.Tests.Corpora;

/// <summary>`lmforge tokenizer fetch-encodings`: OpenAI's rank files from the npm package tiktoken, which then encode as tiktoken does.</summary>
public class TiktokenEncodingsTests
{
    [Fact]
    public void Fetched_rank_files_encode_as_tiktoken_does()
    {
        string directory = Directory.CreateTempSubdirectory("lmforge-encodings-").FullName;
        try
        {
            var written = TiktokenEncodings.Fetch(directory);
            Assert.Equal(KnownEncodings.Names.Select(n => Path.Combine(directory, n + ".tiktoken")), written);
            // "hello world" as tiktoken 1.0.22 encodes it
            Assert.Equal([31373, 995], KnownEncodings.Load("gpt2", directory).Encode("hello world"));
            Assert.Equal([15339, 1917], KnownEncodings.Load("cl100k_base", directory).Encode("hello world"));
            Assert.Equal([24912, 2375], KnownEncodings.Load("o200k_base", directory).Encode("hello world"));
            Assert.Equal(["gpt2", "cl100k_base", "o200k_base"], KnownEncodings.Available(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
