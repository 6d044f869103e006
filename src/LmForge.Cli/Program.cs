using System.CommandLine;

namespace LmForge.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        ConfigureTerminal();
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

    // Every escape code the tool writes comes from Spectre.Console on stdout (stderr gets plain "error: ..." lines):
    // colours and cursor movement only on a terminal, so redirected output (a file, a pipe, CI logs) gets plain text
    // and unwrapped lines,
    // and no colour when NO_COLOR is set to anything but the empty string (https://no-color.org). Spectre reads
    // NO_COLOR itself when it creates its console, but counts an empty value too: that one is dropped first.
    static void ConfigureTerminal()
    {
        if (Environment.GetEnvironmentVariable("NO_COLOR") is "") Environment.SetEnvironmentVariable("NO_COLOR", null);
        var capabilities = Spectre.Console.AnsiConsole.Profile.Capabilities;
        if (Console.IsOutputRedirected)
        {
            capabilities.Ansi = false;
            // no terminal, no width: a line is never wrapped (at Spectre's default 80 columns a printed command with a
            // long path broke in two, so it could not be copied from a log)
            Spectre.Console.AnsiConsole.Profile.Width = 1 << 16;
        }
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))) capabilities.ColorSystem = Spectre.Console.ColorSystem.NoColors;
    }
}
