using System.CommandLine;

namespace LmForge.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Colours and cursor movement only on a terminal: redirected output (a file, a pipe, CI logs) gets plain text.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi = false;
        var root = new RootCommand("LmForge: from raw text to a language model you can talk to.");
        // Each area contributes its commands from its own file under Commands/.
        foreach (var command in Commands.TokenizerCommands.Create()) root.Subcommands.Add(command);
        root.Subcommands.Add(Commands.DataCommands.Create());
        Commands.DataFilterCommands.AddTo(root);
        foreach (var command in Commands.TrainingCommands.Create()) root.Subcommands.Add(command);
        foreach (var command in Commands.KnowledgeCommands.Create()) root.Subcommands.Add(command);
        root.Subcommands.Add(Commands.TaskCommands.Create());
        root.Subcommands.Add(Commands.ConvertCommand.Create());
        root.Subcommands.Add(Commands.PlanCommand.Create());
        return root.Parse(args).Invoke();
    }
}
