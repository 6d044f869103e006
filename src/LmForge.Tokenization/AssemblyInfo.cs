using System.Runtime.CompilerServices;

// Scratch buffers (stackalloc in the merge loop) are always written before they are read.
[module: SkipLocalsInit]
