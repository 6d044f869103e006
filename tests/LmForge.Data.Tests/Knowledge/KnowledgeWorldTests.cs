using System.Text.Json;
using System.Text.RegularExpressions;
using LmForge.Data.Knowledge;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class KnowledgeWorldTests
{
    static readonly KnowledgeWorld World = KnowledgeWorld.Build(Options());

    static Dictionary<string, KnowledgeSplit> Splits(KnowledgeWorld world) => world.Facts.ToDictionary(f => f.Id, world.SplitOf);

    [Fact]
    public void Build_PutsFactsInEverySplit()
    {
        foreach (var split in Enum.GetValues<KnowledgeSplit>())
            Assert.Contains(World.Facts, f => World.SplitOf(f) == split);
        Assert.Equal((19 * 4) + 30 + (14 * 2), World.FactsIn(KnowledgeSplit.Trained).Concat(World.FactsIn(KnowledgeSplit.HeldOut)).Concat(World.FactsIn(KnowledgeSplit.Unseen)).Count());
    }

    [Fact]
    public void Build_IsDeterministicForASeed()
    {
        var again = KnowledgeWorld.Build(Options());
        Assert.Equal(Splits(World), Splits(again));
        Assert.Equal(World.PretrainingText().Select(d => (d.Id, d.Text)), again.PretrainingText().Select(d => (d.Id, d.Text)));
        Assert.NotEqual(Splits(World), Splits(KnowledgeWorld.Build(Options(seed: 7))));
    }

    [Fact]
    public void Build_SplitsAreStableWhenFactsAreAddedOrRemoved()
    {
        var countriesOnly = KnowledgeWorld.Build(new KnowledgeOptions
        {
            Sources = new KnowledgeSourceFiles(KnowledgeFixtures.Countries, null, null), Seed = 20230828, UnseenFraction = 0.3, HeldOutFraction = 0.3,
        });
        var all = Splits(World);
        foreach (var fact in countriesOnly.Facts.Where(f => !f.Subject.IsFabricated))
            Assert.Equal(all[fact.Id], countriesOnly.SplitOf(fact));

        using var temp = new TempDirectory();
        string fewer = CountriesWith(temp, "countries.min.json", text => Regex.Replace(text, "\"FR\":\\{[^}]*\\},", ""));
        var withoutFrance = KnowledgeWorld.Build(new KnowledgeOptions
        {
            Sources = new KnowledgeSourceFiles(fewer, KnowledgeFixtures.WordNetNouns, KnowledgeFixtures.Elements), Seed = 20230828, UnseenFraction = 0.3, HeldOutFraction = 0.3,
        });
        Assert.DoesNotContain(withoutFrance.Facts, f => f.Subject.Name == "France");
        foreach (var fact in withoutFrance.Facts.Where(f => !f.Subject.IsFabricated))
            Assert.Equal(all[fact.Id], withoutFrance.SplitOf(fact));
    }

    [Fact]
    public void Build_AnUnseenEntityHasAllItsFactsUnseen()
    {
        foreach (var entity in World.Facts.Where(f => !f.Subject.IsFabricated).GroupBy(f => f.Subject.Id))
        {
            bool unseen = World.SplitOf(entity.First()) == KnowledgeSplit.Unseen;
            Assert.All(entity, f => Assert.Equal(unseen, World.SplitOf(f) == KnowledgeSplit.Unseen));
        }
    }

    [Fact]
    public void Build_FollowsTheFractions()
    {
        var none = KnowledgeWorld.Build(new KnowledgeOptions { Sources = Sources, UnseenFraction = 0, HeldOutFraction = 0, FabricatedFraction = 0 });
        Assert.All(none.Facts, f => Assert.Equal(KnowledgeSplit.Trained, none.SplitOf(f)));
        var allHeldOut = KnowledgeWorld.Build(new KnowledgeOptions { Sources = Sources, UnseenFraction = 0, HeldOutFraction = 1, FabricatedFraction = 0 });
        Assert.All(allHeldOut.Facts, f => Assert.Equal(KnowledgeSplit.HeldOut, allHeldOut.SplitOf(f)));
        var allUnseen = KnowledgeWorld.Build(new KnowledgeOptions { Sources = Sources, UnseenFraction = 1 });
        Assert.Empty(allUnseen.PretrainingText());

        // Made-up entities per kind: the share of that kind's real entities (19 countries, 11 people, 14 elements).
        var fabricated = World.FactsIn(KnowledgeSplit.Fabricated).Select(f => f.Subject).DistinctBy(e => e.Id).ToList();
        Assert.Equal(6, fabricated.Count(e => e.Kind == EntityKind.Country));
        Assert.Equal(3, fabricated.Count(e => e.Kind == EntityKind.Person));
        Assert.Equal(4, fabricated.Count(e => e.Kind == EntityKind.Element));
    }

    [Fact]
    public void Build_BadFraction_IsAOneLineError()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => KnowledgeWorld.Build(new KnowledgeOptions { Sources = Sources, HeldOutFraction = 1.5 }));
        Assert.StartsWith("HeldOutFraction must be between 0 and 1, got 1.5", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Fabricated_EntitiesHaveNoAnswersAndAreAskedEveryQuestionOfTheirKind()
    {
        var facts = World.FactsIn(KnowledgeSplit.Fabricated).ToList();
        Assert.All(facts, f => Assert.True(f.Subject.IsFabricated && f.Object is null && f.Answers.Count == 0));
        foreach (var entity in facts.GroupBy(f => f.Subject.Id))
            Assert.Equal(Relations.All.Where(r => r.Kind == entity.First().Subject.Kind), entity.Select(f => f.Relation));
        Assert.All(World.Questions(KnowledgeSplit.Fabricated), q => Assert.Null(q.Answer));
    }

    [Fact]
    public void Fabricated_NamesAreInNoSourceFile()
    {
        string sources = string.Join("\n", Sources.Files().Select(File.ReadAllText));
        foreach (var entity in World.FactsIn(KnowledgeSplit.Fabricated).Select(f => f.Subject).DistinctBy(e => e.Id))
        {
            string distinctive = entity.Name.Split(' ')[^1];
            Assert.DoesNotMatch(new Regex($@"\b{distinctive}\b", RegexOptions.IgnoreCase), sources);
        }
    }

    [Fact]
    public void Fabricated_NamesAvoidTheCorpus()
    {
        var before = World.FactsIn(KnowledgeSplit.Fabricated).Select(f => f.Subject.Name).Distinct().ToList();
        string person = before.First(n => n.Contains(' ', StringComparison.Ordinal));
        string country = before.First(n => !n.Contains(' ', StringComparison.Ordinal));
        string corpus = $"A letter from Mr. {person.Split(' ')[1]} arrived. Nobody had heard of {country.ToUpperInvariant()} before.";

        var world = KnowledgeWorld.Build(new KnowledgeOptions
        {
            Sources = Sources, Seed = 20230828, UnseenFraction = 0.3, HeldOutFraction = 0.3, FabricatedFraction = 0.3, Corpus = [corpus],
        });
        var after = world.FactsIn(KnowledgeSplit.Fabricated).Select(f => f.Subject.Name).Distinct().ToList();
        Assert.Equal(before.Count, after.Count);
        Assert.DoesNotContain(person, after);
        Assert.DoesNotContain(country, after);
        // The others stay: the i-th candidate does not depend on the rest.
        Assert.Equal(before.Count - 2, after.Intersect(before).Count());
    }

    [Fact]
    public void Fabricated_AreAskedInTheSameWordsAsRealEntities()
    {
        static string Shape(KnowledgeQuestion q, Fact f) => q.Question.Replace(f.Subject.Name, "X", StringComparison.OrdinalIgnoreCase);
        var facts = World.Facts.ToDictionary(f => f.Id);
        foreach (var relation in Relations.All)
        {
            var real = World.Questions(KnowledgeSplit.Trained).Concat(World.Questions(KnowledgeSplit.Unseen))
                .Where(q => q.Relation == relation.Name && !facts[q.FactId].Subject.TakesThe).Select(q => Shape(q, facts[q.FactId])).ToHashSet();
            var fabricated = World.Questions(KnowledgeSplit.Fabricated).Where(q => q.Relation == relation.Name).Select(q => Shape(q, facts[q.FactId])).ToHashSet();
            Assert.Equal(relation.Questions.Count, fabricated.Count);
            Assert.Subset(real, fabricated);
        }
    }

    [Fact]
    public void PretrainingText_HoldsEveryTrainedAndHeldOutFactInEachParaphraseAndNothingUnseenOrFabricated()
    {
        var options = Options();
        string text = string.Join("\n", World.PretrainingText().Select(d => d.Text));
        foreach (var fact in World.Facts)
        {
            var split = World.SplitOf(fact);
            if (split is KnowledgeSplit.Trained or KnowledgeSplit.HeldOut)
            {
                // Four repetitions, four paraphrases: each paraphrase once.
                for (int paraphrase = 0; paraphrase < fact.Relation.Statements.Count; paraphrase++)
                    Assert.Equal(1, Regex.Count(text, Regex.Escape(fact.Statement(paraphrase))));
            }
            else
            {
                Assert.DoesNotContain(fact.Subject.Name, text, StringComparison.OrdinalIgnoreCase);
                if (fact.Object is not null)
                    foreach (string statement in Enumerable.Range(0, fact.Relation.Statements.Count).Select(fact.Statement))
                        Assert.DoesNotContain(statement, text, StringComparison.Ordinal);
            }
        }
        string seen = World.FactsIn(KnowledgeSplit.Trained).First().Subject.Id;
        Assert.Equal(options.Repetitions, World.PretrainingText().Count(d => d.Id.StartsWith($"knowledge/{seen}/", StringComparison.Ordinal)));
    }

    [Fact]
    public void PretrainingText_WritesOneDocumentPerEntityAndRepetitionInAShuffledOrder()
    {
        var documents = World.PretrainingText();
        int seenEntities = World.Facts.Where(f => World.SplitOf(f) is KnowledgeSplit.Trained or KnowledgeSplit.HeldOut).Select(f => f.Subject.Id).Distinct().Count();
        Assert.Equal(seenEntities * 4, documents.Count);
        Assert.Equal(documents.Count, documents.Select(d => d.Id).Distinct().Count());
        Assert.NotEqual(documents.Select(d => d.Id).Order(StringComparer.Ordinal), documents.Select(d => d.Id));
        var mozart = documents.Where(d => d.Id.StartsWith("knowledge/person/wolfgang-amadeus-mozart/", StringComparison.Ordinal)).ToList();
        Assert.All(mozart, d => Assert.Contains("Wolfgang Amadeus Mozart", d.Text, StringComparison.Ordinal));
    }

    [Fact]
    public void Questions_CarryTheSplitTheFactAndTheAcceptedAnswers()
    {
        foreach (var split in Enum.GetValues<KnowledgeSplit>())
        {
            var questions = World.Questions(split).ToList();
            Assert.Equal(World.FactsIn(split).Sum(f => f.Relation.Questions.Count), questions.Count);
            Assert.All(questions, q => Assert.Equal(split, q.Split));
        }
        var all = Enum.GetValues<KnowledgeSplit>().SelectMany(World.Questions).ToList();
        Assert.Equal(all.Count, all.Select(q => q.Id).Distinct().Count());
        var peru = World.Facts.Single(f => f.Subject.Name == "Peru" && f.Relation == Relations.CapitalOf);
        var question = all.First(q => q.FactId == peru.Id);
        Assert.Equal("What is the capital of Peru?", question.Question);
        Assert.Equal("The capital of Peru is Lima.", question.Answer);
        Assert.Equal(["Lima"], question.Answers);
        Assert.Equal(World.SplitOf(peru), question.Split);
    }

    [Fact]
    public void Write_GivesOneJsonLinePerFactAndPerQuestionWithItsSplit()
    {
        using var temp = new TempDirectory();
        World.Write(temp.Path);
        Assert.Equal(["facts.jsonl", "questions.jsonl"], Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var facts = File.ReadAllLines(temp.File("facts.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(World.Facts.Count, facts.Count);
        var mozart = facts.Single(f => f.GetProperty("id").GetString() == "person/wolfgang-amadeus-mozart/born-in-year");
        Assert.Equal("1756", mozart.GetProperty("object").GetString());
        Assert.Equal(World.SplitOf(World.Facts.Single(f => f.Id == "person/wolfgang-amadeus-mozart/born-in-year")).ToName(), mozart.GetProperty("split").GetString());
        Assert.Equal(4, mozart.GetProperty("statements").GetArrayLength());
        Assert.All(facts.Where(f => f.GetProperty("split").GetString() == "fabricated"), f => Assert.Equal(JsonValueKind.Null, f.GetProperty("object").ValueKind));

        var questions = File.ReadAllLines(temp.File("questions.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enum.GetValues<KnowledgeSplit>().Sum(s => World.Questions(s).Count()), questions.Count);
        Assert.All(questions, q => Assert.Contains(q.GetProperty("split").GetString(), new[] { "trained", "held_out", "unseen", "fabricated" }));
    }
}
