using System.Runtime.CompilerServices;
using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Tests.Training;

/// <summary>The small chat-ready vocabulary that the Hugging Face fixtures (Fixtures/hf) were made from.</summary>
internal static class FixtureTokenizer
{
    public static readonly BpeTrainerOptions Options = new()
    {
        VocabSize = 600,
        SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens],
    };

    static readonly Lazy<TrainedBpe> Trained = new(() =>
        new BpeTrainer(Options).TrainOnTexts(TrainingCorpus.Documents(count: 60, wordsPerDocument: 100)));

    public static TrainedBpe Bpe => Trained.Value;

    public static string HfFixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf", name);

    /// <summary>Where the fixture lives in the source tree (to regenerate it).</summary>
    public static string SourceFixture(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "Fixtures", "hf", name);
}
