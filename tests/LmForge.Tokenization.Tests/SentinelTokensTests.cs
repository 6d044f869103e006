using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Tests;

public sealed class SentinelTokensTests
{
    static TrainedBpe Trained(params string[] specials) =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 290 + specials.Length, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. specials] })
            .TrainOnTexts(["the cat sat on the mat, the cat sat again"]);

    [Fact]
    public void Adding_the_sentinels_keeps_every_id_and_gives_them_in_order()
    {
        var plain = Trained().ToTokenizer();
        var t5 = SentinelTokens.With(plain);
        Assert.Equal(Enumerable.Range(plain.VocabularySize, 100), SentinelTokens.Ids(t5));
        Assert.Equal("<extra_id_0>", SentinelTokens.Name(0));
        Assert.Equal(plain.GetSpecialTokenId(BpeTrainerOptions.EndOfText), t5.GetSpecialTokenId(BpeTrainerOptions.EndOfText));
        Assert.Equal(plain.EncodeOrdinary("the cat sat"), t5.EncodeOrdinary("the cat sat"));
        Assert.Same(t5, SentinelTokens.With(t5));
        Assert.Equal([t5.GetSpecialTokenId("<extra_id_7>")], t5.Encode("<extra_id_7>", SpecialTokenSet.All));

        // a tokenizer with a few keeps them and gets the rest after its last id
        var few = Trained([.. SentinelTokens.Names(3)]).ToTokenizer();
        var more = SentinelTokens.With(few, 5);
        Assert.Equal([.. SentinelTokens.Ids(few), few.VocabularySize, few.VocabularySize + 1], SentinelTokens.Ids(more));
    }

    [Fact]
    public void A_tokenizer_without_sentinels_is_an_error_naming_the_command_that_adds_them()
    {
        var error = Assert.Throws<InvalidDataException>(() => SentinelTokens.Ids(Trained([.. EncoderTokens.All]).ToTokenizer()));
        Assert.Contains("<extra_id_0>", error.Message, StringComparison.Ordinal);
        Assert.Contains("lmforge tokenizer add-encoder-tokens", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Encoder_tokens_and_sentinels_are_added_to_a_tokenizer_file_and_read_back()
    {
        string directory = Directory.CreateTempSubdirectory("lmforge-sentinels-").FullName;
        var bpe = Trained([.. BpeTrainerOptions.ChatSpecialTokens]);
        string source = Path.Combine(directory, "tokenizer.json"), output = Path.Combine(directory, "t5.json");
        HuggingFaceTokenizerWriter.Write(bpe, source);
        var plain = HuggingFaceTokenizerFile.Load(source);

        var added = EncoderTokens.AddTo(source, output);
        Assert.Equal([.. EncoderTokens.All, .. SentinelTokens.Names()], added.Keys);
        Assert.Equal(Enumerable.Range(plain.VocabularySize, 104), added.Values);
        var loaded = HuggingFaceTokenizerFile.Load(output);
        var expected = EncoderTokens.WithSentinels(plain);
        Assert.Equal(expected.SpecialTokens.OrderBy(s => s.Value), loaded.SpecialTokens.OrderBy(s => s.Value));
        foreach (var (token, id) in plain.SpecialTokens) Assert.Equal(id, loaded.GetSpecialTokenId(token)); // nothing moved
        Assert.Equal(plain.EncodeOrdinary("the cat sat on the mat"), loaded.EncodeOrdinary("the cat sat on the mat"));
        Assert.Equal(SentinelTokens.Ids(expected), SentinelTokens.Ids(loaded));
        Assert.Equal("the <extra_id_3> mat", loaded.DecodeText(loaded.Encode("the <extra_id_3> mat", SpecialTokenSet.All)));

        Assert.Throws<IOException>(() => EncoderTokens.AddTo(source, output)); // never overwritten
        var again = Assert.Throws<InvalidDataException>(() => EncoderTokens.AddTo(output, Path.Combine(directory, "again.json")));
        Assert.Contains("already", again.Message, StringComparison.Ordinal);
    }
}
