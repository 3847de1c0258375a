using FlowService.Training.Datasets;

namespace FlowService.Training.Tests.Datasets;

public class SqliteDatasetStoreTests
{
    [Fact]
    public async Task Add_get_list_load_delete_round_trip()
    {
        using var temp = new TempDataFolder();
        var store = new SqliteDatasetStore(temp.Database, temp.Folder);
        var table = new NumericTable(["a", "b"], 3, [1, 10, 2, 20, 3, 60]);

        var info = await store.AddAsync("demo", DatasetFormat.Csv, table, "abc", 42);
        Assert.Equal(3, info.Rows);
        Assert.Equal(2, info.Statistics[0].Mean, 12);
        Assert.Equal(Math.Sqrt(2.0 / 3), info.Statistics[0].Std, 12);
        Assert.Equal(10, info.Statistics[1].Min);
        Assert.Equal(60, info.Statistics[1].Max);

        var again = await store.GetAsync(info.Id);
        Assert.Equal(info with { Columns = again!.Columns, Statistics = again.Statistics }, again);
        Assert.Equal(info.Statistics, again.Statistics);
        Assert.Single(await store.ListAsync());
        var loaded = await store.LoadAsync(info.Id);
        Assert.Equal(table.Values, loaded!.Values);
        Assert.Equal(table.Columns, loaded.Columns);

        Assert.True(await store.DeleteAsync(info.Id));
        Assert.False(File.Exists(temp.Folder.DatasetFile(info.Id)));
        Assert.Null(await store.GetAsync(info.Id));
        Assert.False(await store.DeleteAsync(info.Id));
    }

    [Fact]
    public void Schema_migrations_are_idempotent_on_reopen()
    {
        using var temp = new TempDataFolder();
        var reopened = new Storage.SqliteDatabase(temp.Folder.DatabasePath);
        Assert.True(reopened.IsReachable());
    }
}
