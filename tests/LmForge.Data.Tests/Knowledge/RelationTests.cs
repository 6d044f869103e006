using System.Text.RegularExpressions;
using LmForge.Data.Knowledge;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class RelationTests
{
    static readonly KnowledgeWorld World = KnowledgeWorld.Build(Options());

    [Fact]
    public void EveryRelation_HasAtLeastThreeDistinctParaphrasesAndQuestionWordings()
    {
        foreach (var relation in Relations.All)
        {
            Assert.True(relation.Statements.Distinct().Count() >= 3, relation.Name);
            Assert.True(relation.Questions.Distinct().Count() >= 3, relation.Name);
        }
        Assert.Equal(Relations.All.Count, Relations.All.Select(r => r.Name).Distinct().Count());
    }

    [Fact]
    public void EveryRelation_HasFactsInTheFixtureWorld()
    {
        foreach (var relation in Relations.All)
            Assert.Contains(World.Facts, f => f.Relation == relation && f.Object is not null);
    }

    [Fact]
    public void Renderings_ContainTheSubjectAndTheObject()
    {
        foreach (var fact in World.Facts.Where(f => f.Object is not null))
        {
            var sentences = Enumerable.Range(0, fact.Relation.Statements.Count).Select(fact.Statement).Append(fact.Relation.Answer(fact)!);
            foreach (string sentence in sentences)
            {
                Assert.Contains(fact.Subject.Name, sentence, StringComparison.OrdinalIgnoreCase);
                Assert.Contains(fact.Object!, sentence, StringComparison.Ordinal);
                Assert.EndsWith(".", sentence, StringComparison.Ordinal);
                Assert.DoesNotContain("{", sentence, StringComparison.Ordinal);
            }
            for (int wording = 0; wording < fact.Relation.Questions.Count; wording++)
            {
                string question = fact.Relation.Question(fact.Subject, wording);
                Assert.Contains(fact.Subject.Name, question, StringComparison.OrdinalIgnoreCase);
                if (!fact.Subject.Name.Contains(fact.Object!, StringComparison.Ordinal)) // "Vatican City" is its own capital
                    Assert.DoesNotMatch($@"\b{Regex.Escape(fact.Object!)}\b", question);
            }
        }
    }

    [Fact]
    public void Statements_ReadNaturally()
    {
        var facts = World.Facts;
        var france = Single(facts, "France", Relations.CapitalOf);
        Assert.Equal(["The capital of France is Paris.", "Paris is the capital of France.", "Paris is France's capital city.", "France has Paris as its capital."],
            Enumerable.Range(0, 4).Select(france.Statement));
        var netherlands = Single(facts, "Netherlands", Relations.CapitalOf);
        Assert.Equal("Amsterdam is the Netherlands' capital city.", netherlands.Statement(2));
        Assert.Equal("The Netherlands has Amsterdam as its capital.", netherlands.Statement(3));
        Assert.Equal("What is the capital of the Netherlands?", Relations.CapitalOf.Question(netherlands.Subject, 0));
        Assert.Equal("Leonardo da Vinci was an old master.", Single(facts, "Leonardo da Vinci", Relations.KnownAs).Statement(0));
        Assert.Equal("Iron has atomic number 26.", Single(facts, "iron", Relations.AtomicNumber).Statement(1));
        Assert.Equal("The capital of the United States is Washington D.C.", Relations.CapitalOf.Answer(Single(facts, "United States", Relations.CapitalOf)));
        Assert.Equal("In what year was Wolfgang Amadeus Mozart born?", Relations.BornIn.Question(Single(facts, "Wolfgang Amadeus Mozart", Relations.BornIn).Subject, 0));
    }

    [Fact]
    public void Constructor_RejectsAQuestionThatGivesTheAnswerAway()
    {
        var error = Assert.Throws<ArgumentException>(() => new Relation("r", EntityKind.Country, ["{S} is {O}."], ["Is {S} {O}?"], "{S} is {O}."));
        Assert.Contains("must name the subject and not the object", error.Message, StringComparison.Ordinal);
    }
}
