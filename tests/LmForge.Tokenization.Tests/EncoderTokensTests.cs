using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Tests;

public sealed class EncoderTokensTests
{
    [Fact]
    public void Adding_the_encoder_tokens_keeps_every_id_and_is_idempotent()
    {
        var plain = new BpeTrainer(new BpeTrainerOptions { VocabSize = 290, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText] })
            .TrainOnTexts(["the cat sat on the mat, the cat sat again"]).ToTokenizer();
        var encoder = EncoderTokens.With(plain);
        Assert.Equal(EncoderTokens.All.Select((_, i) => plain.VocabularySize + i), EncoderTokens.All.Select(encoder.GetSpecialTokenId));
        Assert.Equal(plain.GetSpecialTokenId(BpeTrainerOptions.EndOfText), encoder.GetSpecialTokenId(BpeTrainerOptions.EndOfText));
        Assert.Equal(plain.EncodeOrdinary("the cat sat"), encoder.EncodeOrdinary("the cat sat"));
        Assert.Same(encoder, EncoderTokens.With(encoder));
        Assert.Equal([encoder.GetSpecialTokenId(EncoderTokens.Mask)], encoder.Encode("[MASK]", SpecialTokenSet.All));
    }
}
