namespace LmForge.Training.Tests;

/// <summary>`lmforge convert` between llm.c's model files and Hugging Face checkpoint directories, on the files
/// tests/reference/make_gpt2_layouts.py wrote the way llm.c and transformers write them.</summary>
public class ConvertCommandTests
{
    static string Fixture(string name) => Path.Combine(TestFiles.RepositoryRoot(), "tests", "reference", "fixtures", "gpt2_layouts", name);

    [Fact]
    public void Converts_llmc_to_a_checkpoint_directory_and_back_byte_for_byte()
    {
        string directory = TestFiles.TemporaryDirectory("convert");
        try
        {
            string checkpoint = Path.Combine(directory, "checkpoint");
            var (exitCode, output, errors) = TestFiles.RunTool("convert", "--from", Fixture("gpt2_124M_like.bin"), "--to", checkpoint);
            Assert.True(exitCode == 0, errors);
            Assert.Contains("no tokenizer.json", output);
            Assert.Equal(["README.md", "config.json", "model.safetensors"], Directory.GetFileSystemEntries(checkpoint).Select(Path.GetFileName).Order());
            string card = File.ReadAllText(Path.Combine(checkpoint, "README.md"));
            Assert.StartsWith("---\nlibrary_name: lmforge\n", card, StringComparison.Ordinal); // a model card, saying only what the file says
            Assert.Contains($"Converted by `lmforge convert` from `{Fixture("gpt2_124M_like.bin")}`", card, StringComparison.Ordinal);
            Assert.Single(Directory.GetFileSystemEntries(directory)); // no temporary directory left beside it

            // a checkpoint directory keeps its tokenizer.json when converted to another directory
            File.WriteAllText(Path.Combine(checkpoint, "tokenizer.json"), "{}");
            (exitCode, _, errors) = TestFiles.RunTool("convert", "--from", checkpoint, "--to", Path.Combine(directory, "copy"));
            Assert.True(exitCode == 0, errors);
            Assert.Equal("{}", File.ReadAllText(Path.Combine(directory, "copy", "tokenizer.json")));
            Assert.StartsWith(card, File.ReadAllText(Path.Combine(directory, "copy", "README.md")), StringComparison.Ordinal); // the source's card travels with it

            string bf16 = Path.Combine(directory, "model_bf16.bin");
            (exitCode, output, errors) = TestFiles.RunTool("convert", "--from", checkpoint, "--to", bf16, "--format", "llmc-bf16");
            Assert.True(exitCode == 0, errors);
            Assert.Contains("holds no tokenizer", output);
            Assert.Equal(File.ReadAllBytes(Fixture("gpt2_124M_like_bf16.bin")), File.ReadAllBytes(bf16));

            string fp32 = Path.Combine(directory, "model.bin");
            (exitCode, _, errors) = TestFiles.RunTool("convert", "--from", Path.Combine(checkpoint, "model.safetensors"), "--to", fp32);
            Assert.True(exitCode == 0, errors);
            Assert.Equal(File.ReadAllBytes(Fixture("gpt2_124M_like.bin")), File.ReadAllBytes(fp32));

            // an existing --to and a damaged llm.c file are one-line errors
            (exitCode, _, errors) = TestFiles.RunTool("convert", "--from", fp32, "--to", checkpoint);
            Assert.Equal(1, exitCode);
            Assert.Equal($"error: {checkpoint}: already exists; convert writes only a new --to", errors.Trim());
            File.WriteAllBytes(Path.Combine(directory, "bad.bin"), File.ReadAllBytes(fp32)[..2000]);
            (exitCode, _, errors) = TestFiles.RunTool("convert", "--from", Path.Combine(directory, "bad.bin"), "--to", Path.Combine(directory, "out"));
            Assert.Equal(1, exitCode);
            Assert.Single(errors.Trim().Split('\n'));
            Assert.Contains("bad.bin: truncated", errors);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
