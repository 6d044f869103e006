using LmForge.Data.LanguageId;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.LanguageId;

public sealed class LanguageIdTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // Three made-up languages, each a different syllable inventory (with some shared syllables), 8 documents each.
    private string WriteSyntheticCorpus()
    {
        var random = new Random(20230828);
        var inventories = new Dictionary<string, string[]>
        {
            ["aa"] = ["ka", "ri", "to", "na", "mi", "su", "le", "po"],
            ["bb"] = ["schn", "ach", "ung", "ei", "sch", "le", "ber", "po"],
            ["cc"] = ["oux", "eau", "ien", "qu", "ai", "le", "ette", "po"],
        };
        string root = _dir.File("corpus");
        foreach (var (language, syllables) in inventories)
        {
            Directory.CreateDirectory(Path.Combine(root, language));
            for (int d = 0; d < 8; d++)
            {
                var words = Enumerable.Range(0, 400).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => syllables[random.Next(syllables.Length)])));
                File.WriteAllText(Path.Combine(root, language, $"doc{d}.txt"), string.Join(' ', words));
            }
        }
        return root;
    }

    [Fact]
    public void Trainer_LearnsSyntheticLanguages_AndTheSavedModelPredictsTheSame()
    {
        string corpus = WriteSyntheticCorpus();
        var options = new LanguageIdTrainingOptions { BucketBits = 12, Epochs = 3, ChunkCharacters = 100, TestFraction = 0.25 };
        var result = LanguageIdTrainer.Train(corpus, options);
        Assert.Equal(["aa", "bb", "cc"], result.Model.Languages);
        Assert.All(result.Accuracy, a => Assert.True(a.ChunkAccuracy >= 0.95, $"{a.Language}: {a.ChunkAccuracy:P1} on held-out pieces"));
        Assert.All(result.Accuracy, a => Assert.True(a.TestDocuments >= 1 && a.TrainDocuments >= 1));
        Assert.Contains("| aa |", result.ToMarkdown(), StringComparison.Ordinal);

        string path = _dir.File("model.langid");
        result.Model.Save(path);
        var loaded = LanguageIdModel.Load(path);
        foreach (var text in new[] { "karito namisu", "schnacheiung", "ouxeauien quai", "" })
            Assert.Equal(result.Model.Identify(text), loaded.Identify(text));
        Assert.Equal(new LanguagePrediction("und", 0), loaded.Identify("1234 !!! ..."));
    }

    [Fact]
    public void Trainer_BadInput_FailsNamingTheDirectory()
    {
        Assert.Contains("training directory not found", Assert.Throws<DirectoryNotFoundException>(() => LanguageIdTrainer.Train(_dir.File("none"))).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(_dir.File("one/en"));
        Assert.Contains("needs at least 2 language subdirectories", Assert.Throws<InvalidDataException>(() => LanguageIdTrainer.Train(_dir.File("one"))).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(_dir.File("one/Not A Code"));
        Assert.Contains("must be named by a lower-case code", Assert.Throws<InvalidDataException>(() => LanguageIdTrainer.Train(_dir.File("one"))).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(_dir.File("two/en"));
        Directory.CreateDirectory(_dir.File("two/de"));
        File.WriteAllText(_dir.File("two/de/a.txt"), "ein Text");
        var error = Assert.Throws<InvalidDataException>(() => LanguageIdTrainer.Train(_dir.File("two")));
        Assert.Contains("needs at least 2 .txt documents", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadFile_FailsWithOneLineNamingIt()
    {
        string path = _dir.File("bad.langid");
        File.WriteAllText(path, "NOTAMODEL-and-some-bytes");
        Assert.Contains("not a language-id model", Assert.Throws<InvalidDataException>(() => LanguageIdModel.Load(path)).Message, StringComparison.Ordinal);
        var result = LanguageIdTrainer.Train(WriteSyntheticCorpus(), new LanguageIdTrainingOptions { BucketBits = 10, Epochs = 1, ChunkCharacters = 100 });
        result.Model.Save(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^7]);
        var truncated = Assert.Throws<InvalidDataException>(() => LanguageIdModel.Load(path));
        Assert.StartsWith($"{path}: truncated at byte", truncated.Message, StringComparison.Ordinal);
        Assert.Contains("not found", Assert.Throws<FileNotFoundException>(() => LanguageIdModel.Load(_dir.File("missing"))).Message, StringComparison.Ordinal);
    }

    // Sentences written for this test (not from the training man pages), one per language.
    public static TheoryData<string, string> Sentences => new()
    {
        { "en", "The weather was lovely yesterday, so we walked along the river and had lunch in a small cafe near the old bridge." },
        { "de", "Gestern war das Wetter schön, deshalb sind wir am Fluss entlang spaziert und haben in einem kleinen Café gegessen." },
        { "fr", "Hier il faisait beau, alors nous nous sommes promenés le long de la rivière et avons déjeuné dans un petit café." },
        { "es", "Ayer hizo buen tiempo, así que caminamos junto al río y comimos en una pequeña cafetería cerca del puente viejo." },
        { "it", "Ieri il tempo era bello, così abbiamo passeggiato lungo il fiume e abbiamo pranzato in un piccolo caffè vicino al ponte." },
        { "nl", "Gisteren was het mooi weer, dus we liepen langs de rivier en aten een broodje in een klein café bij de oude brug." },
        { "pl", "Wczoraj była piękna pogoda, więc spacerowaliśmy wzdłuż rzeki i zjedliśmy obiad w małej kawiarni przy starym moście." },
        { "ru", "Вчера была прекрасная погода, поэтому мы гуляли вдоль реки и обедали в маленьком кафе возле старого моста." },
        { "uk", "Учора була чудова погода, тому ми гуляли вздовж річки й обідали в маленькій кав'ярні біля старого мосту." },
        { "ja", "昨日は天気が良かったので、川沿いを散歩して、古い橋の近くの小さなカフェで昼ご飯を食べました。" },
        { "tr", "Dün hava çok güzeldi, bu yüzden nehir boyunca yürüdük ve eski köprünün yakınındaki küçük bir kafede öğle yemeği yedik." },
        { "sv", "Igår var vädret vackert, så vi promenerade längs floden och åt lunch på ett litet kafé nära den gamla bron." },
        { "cs", "Včera bylo krásné počasí, takže jsme se procházeli podél řeky a obědvali v malé kavárně u starého mostu." },
        { "vi", "Hôm qua thời tiết rất đẹp, vì vậy chúng tôi đi dạo dọc bờ sông và ăn trưa ở một quán cà phê nhỏ gần cây cầu cũ." },
    };

    [Theory]
    [MemberData(nameof(Sentences))]
    public void BuiltInModel_IdentifiesUnseenSentences(string language, string sentence)
    {
        var prediction = LanguageIdModel.BuiltIn.Identify(sentence);
        Assert.Equal(language, prediction.Language);
        Assert.InRange(prediction.Score, 0.5f, 1f);
    }

    [Fact]
    public void LanguageFilter_KeepsListedLanguagesAtOrAboveTheThreshold_AndWritesMetadata()
    {
        var model = LanguageIdModel.BuiltIn;
        var english = new Document("en", "The weather was lovely yesterday, so we walked along the river and had lunch in a small cafe.");
        var german = new Document("de", "Gestern war das Wetter schön, deshalb sind wir am Fluss entlang spaziert und haben gegessen.");
        var probabilities = new float[32];
        Assert.True(model.Probabilities(english.Text, probabilities));
        float englishScore = probabilities[model.Languages.ToList().IndexOf("en")];

        Assert.Null(Filters.TextFactory.Reason(new LanguageFilter(model, ["en"], englishScore), english));
        Assert.Equal("en", english.Metadata["language"]);
        Assert.Equal(Math.Round(englishScore, 4), english.Metadata["language_score"]);
        Assert.Equal("language", Filters.TextFactory.Reason(new LanguageFilter(model, ["en"], MathF.BitIncrement(englishScore)), english));
        Assert.Equal("language", Filters.TextFactory.Reason(new LanguageFilter(model), german));
        Assert.Equal("de", german.Metadata["language"]);
        Assert.Null(Filters.TextFactory.Reason(new LanguageFilter(model, ["en", "de"]), german));
        Assert.Throws<ArgumentException>(() => new LanguageFilter(model, ["xx"]));
    }

    [Fact]
    public void LanguageFilter_FromRecipe_ChecksItsParameters()
    {
        var step = StepRegistry.Create(StepParameters.FromJson("language_filter", """{"languages": ["en", "fr"], "threshold": 0.5}"""));
        Assert.Equal("language_filter", step.Name);
        var error = Assert.Throws<RecipeException>(() => StepRegistry.Create(StepParameters.FromJson("language_filter", """{"threshold": 1.5}""")));
        Assert.Contains("threshold", error.Message, StringComparison.Ordinal);
        var model = Assert.Throws<RecipeException>(() => StepRegistry.Create(StepParameters.FromJson("language_filter", """{"model": "/nonexistent.langid"}""")));
        Assert.Contains("/nonexistent.langid: language-id model not found", model.Message, StringComparison.Ordinal);
    }
}
