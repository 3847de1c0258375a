using FlowService.Training.Datasets;

namespace FlowService.Training.Tests.Datasets;

public class DatasetStoreTests
{
    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Add_get_list_load_delete_round_trip(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var store = stores.Datasets;
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
        Assert.Equal(info.Columns, again.Columns);
        Assert.Single(await store.ListAsync());
        var loaded = await store.LoadAsync(info.Id);
        Assert.Equal(table.Values, loaded!.Values);
        Assert.Equal(table.Columns, loaded.Columns);

        Assert.True(await store.DeleteAsync(info.Id));
        Assert.False(File.Exists(stores.Folder.DatasetFile(info.Id)));
        Assert.Null(await store.GetAsync(info.Id));
        Assert.Null(await store.LoadAsync(info.Id));
        Assert.False(await store.DeleteAsync(info.Id));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Schema_migrations_are_idempotent_on_reopen(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var table = new NumericTable(["a"], 2, [1, 2]);
        var info = await stores.Datasets.AddAsync("kept", DatasetFormat.Json, table, "s", 1);
        await using var reopened = stores.Reopen();
        Assert.Equal(info, (await reopened.Datasets.ListAsync()).Single() with { Columns = info.Columns, Statistics = info.Statistics });
    }
}
