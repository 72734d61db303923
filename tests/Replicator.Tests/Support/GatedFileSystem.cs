using System.IO.Abstractions;

namespace Replicator.Tests;

/// <summary>
/// The real file system, except that moving a file to a path <see cref="Holds"/> names waits for <see cref="Release"/>
/// (or fails with an IOException after <see cref="Fail"/>): it holds a commit in its last step, the rename into the
/// tree, as a crash there would leave it.
/// </summary>
internal sealed class GatedFileSystem : FileSystem
{
    private readonly GatedFile _file;

    public GatedFileSystem(Func<string, bool> holds)
    {
        _file = new GatedFile(this, holds);
    }

    public override IFile File => _file;

    /// <summary>Completes when a move has reached the gate.</summary>
    public Task Reached => _file.Reached.Task;

    public void Release() => _file.Gate.TrySetResult(true);

    public void Fail() => _file.Gate.TrySetResult(false);

    private sealed class GatedFile(IFileSystem fileSystem, Func<string, bool> holds) : FileWrapper(fileSystem)
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Move(string sourceFileName, string destFileName, bool overwrite)
        {
            if (holds(destFileName))
            {
                Reached.TrySetResult();
                if (!Gate.Task.GetAwaiter().GetResult())
                {
                    throw new IOException("the test failed this move");
                }
            }

            base.Move(sourceFileName, destFileName, overwrite);
        }
    }
}
