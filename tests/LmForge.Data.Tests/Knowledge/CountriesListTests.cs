using LmForge.Data.Knowledge;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class CountriesListTests
{
    static readonly List<Fact> Facts = CountriesList.Read(KnowledgeFixtures.Countries);

    [Fact]
    public void Read_GivesWhatThePackageSays()
    {
        Assert.Equal("Paris", Single(Facts, "France", Relations.CapitalOf).Object);
        Assert.Equal("Europe", Single(Facts, "France", Relations.ContinentOf).Object);
        Assert.Equal("Euro", Single(Facts, "France", Relations.CurrencyOf).Object);
        Assert.Equal("French", Single(Facts, "France", Relations.LanguageOf).Object);
        Assert.Equal("Lima", Single(Facts, "Peru", Relations.CapitalOf).Object);
        Assert.Equal("South America", Single(Facts, "Peru", Relations.ContinentOf).Object);
        Assert.Equal(["Peruvian Sol", "PEN"], Single(Facts, "Peru", Relations.CurrencyOf).Answers);
        Assert.Equal("Tokyo", Single(Facts, "Japan", Relations.CapitalOf).Object);
        Assert.Equal("Kenyan Shilling", Single(Facts, "Kenya", Relations.CurrencyOf).Object);
        Assert.Equal("country/fr/capital-of", Single(Facts, "France", Relations.CapitalOf).Id);
    }

    [Fact]
    public void Read_AcceptsEveryLanguageAndEveryContinentOfACountry()
    {
        var swiss = Single(Facts, "Switzerland", Relations.LanguageOf);
        Assert.Equal("German, French and Italian", swiss.Object);
        Assert.Equal(["German, French and Italian", "German", "French", "Italian"], swiss.Answers);
        var russia = Single(Facts, "Russia", Relations.ContinentOf);
        Assert.Equal("Asia", russia.Object);
        Assert.Equal(["Asia", "Europe"], russia.Answers);
    }

    [Fact]
    public void Read_KeepsAliasesAndMarksNamesReadWithThe()
    {
        var us = Single(Facts, "United States", Relations.CapitalOf).Subject;
        Assert.Contains("USA", us.Aliases);
        Assert.True(us.TakesThe);
        Assert.True(Single(Facts, "Netherlands", Relations.CapitalOf).Subject.TakesThe);
        Assert.False(Single(Facts, "France", Relations.CapitalOf).Subject.TakesThe);
    }

    [Fact]
    public void Read_GivesNoFactForAnEmptyField()
    {
        // Antarctica has no capital, currency or language, and its continent is itself.
        Assert.DoesNotContain(Facts, f => f.Subject.Name == "Antarctica");
        Assert.Equal(19 * 4, Facts.Count);
    }

    [Fact]
    public void Read_InvalidJson_NamesTheFileAndLine()
    {
        using var temp = new TempDirectory();
        string directory = CountriesWith(temp, "countries.min.json", text => text.Replace("\"FR\":", "\n\"FR\"", StringComparison.Ordinal));
        var error = Assert.Throws<InvalidDataException>(() => CountriesList.Read(directory));
        Assert.StartsWith(Path.Combine(directory, "countries.min.json") + ":2: invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Read_MissingField_NamesTheFileTheEntryAndTheField()
    {
        using var temp = new TempDirectory();
        string directory = CountriesWith(temp, "countries.min.json", text => text.Replace("\"capital\":\"Lima\"", "\"capital\":7", StringComparison.Ordinal));
        var error = Assert.Throws<InvalidDataException>(() => CountriesList.Read(directory));
        Assert.Equal($"{Path.Combine(directory, "countries.min.json")}: country \"PE\": expected a string \"capital\"", error.Message);
    }

    [Fact]
    public void Read_UnknownCurrencyCode_SaysWhichCountryAndCode()
    {
        using var temp = new TempDirectory();
        string directory = CountriesWith(temp, "countries.min.json", text => text.Replace("[\"PEN\"]", "[\"XXX\"]", StringComparison.Ordinal));
        var error = Assert.Throws<InvalidDataException>(() => CountriesList.Read(directory));
        Assert.Equal($"{Path.Combine(directory, "countries.min.json")}: country \"PE\": unknown currency code \"XXX\"", error.Message);
    }

    [Fact]
    public void Read_MissingFile_NamesIt()
    {
        using var temp = new TempDirectory();
        var error = Assert.Throws<FileNotFoundException>(() => CountriesList.Read(temp.Path));
        Assert.Contains(Path.Combine(temp.Path, "continents.min.json"), error.Message, StringComparison.Ordinal);
    }
}
