namespace LmForge.Data.Knowledge;

/// <summary>Every relation the knowledge world knows, with its paraphrases and question wordings.</summary>
public static class Relations
{
    public static readonly Relation CapitalOf = new("capital-of", EntityKind.Country,
        ["The capital of {S} is {O}.", "{O} is the capital of {S}.", "{O} is {S's} capital city.", "{S} has {O} as its capital."],
        ["What is the capital of {S}?", "Which city is the capital of {S}?", "What is {S's} capital city?", "Name the capital of {S}."],
        "The capital of {S} is {O}.");

    public static readonly Relation ContinentOf = new("continent-of", EntityKind.Country,
        ["{S} is in {O}.", "{S} lies on the continent of {O}.", "{S} is a part of {O}.", "On a map, you find {S} in {O}."],
        ["On which continent is {S}?", "Which continent is {S} in?", "What continent does {S} belong to?", "Where in the world is {S}?"],
        "{S} is in {O}.");

    public static readonly Relation CurrencyOf = new("currency-of", EntityKind.Country,
        ["The currency of {S} is the {O}.", "{S} uses the {O} as its currency.", "In {S}, people pay with the {O}.", "The {O} is the money of {S}."],
        ["What is the currency of {S}?", "Which currency is used in {S}?", "What money do people use in {S}?", "What do people in {S} pay with?"],
        "The currency of {S} is the {O}.");

    public static readonly Relation LanguageOf = new("language-of", EntityKind.Country,
        ["People in {S} speak {O}.", "The people of {S} speak {O}.", "In {S}, people speak {O}.", "If you travel to {S}, you will hear {O}."],
        ["What language is spoken in {S}?", "Which language do people speak in {S}?", "What language do people use in {S}?", "What do the people of {S} speak?"],
        "People in {S} speak {O}.");

    public static readonly Relation BornIn = new("born-in-year", EntityKind.Person,
        ["{S} was born in {O}.", "{S's} year of birth was {O}.", "In {O}, {S} was born.", "The birth year of {S} is {O}."],
        ["In what year was {S} born?", "When was {S} born?", "What year was {S} born in?", "What is {S's} year of birth?"],
        "{S} was born in {O}.");

    public static readonly Relation DiedIn = new("died-in-year", EntityKind.Person,
        ["{S} died in {O}.", "{S's} death came in {O}.", "In {O}, {S} died.", "The year {S} died was {O}."],
        ["In what year did {S} die?", "When did {S} die?", "What year did {S} die in?", "What is {S's} year of death?"],
        "{S} died in {O}.");

    public static readonly Relation KnownAs = new("known-as", EntityKind.Person,
        ["{S} was {a O}.", "{S} is remembered as {a O}.", "{S} was known as {a O}.", "History knows {S} as {a O}."],
        ["Who was {S}?", "What was {S} known as?", "What is {S} remembered as?", "What was {S} best known as?"],
        "{S} was {a O}.");

    public static readonly Relation SymbolOf = new("symbol-of", EntityKind.Element,
        ["The chemical symbol of {S} is {O}.", "{O} is the chemical symbol for {S}.", "{S} has the symbol {O}.", "Chemists write {S} as {O}."],
        ["What is the chemical symbol of {S}?", "Which symbol stands for {S}?", "What is {S's} chemical symbol?", "How do chemists write {S} as a symbol?"],
        "The chemical symbol of {S} is {O}.");

    public static readonly Relation AtomicNumber = new("atomic-number", EntityKind.Element,
        ["The atomic number of {S} is {O}.", "{S} has atomic number {O}.", "{S} is element number {O} in the periodic table.", "An atom of {S} has {O} protons."],
        ["What is the atomic number of {S}?", "Which atomic number does {S} have?", "What is {S's} atomic number?", "How many protons does an atom of {S} have?"],
        "The atomic number of {S} is {O}.");

    public static IReadOnlyList<Relation> All { get; } =
        [CapitalOf, ContinentOf, CurrencyOf, LanguageOf, BornIn, DiedIn, KnownAs, SymbolOf, AtomicNumber];
}
