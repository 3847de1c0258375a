namespace FlowService.Model.Tests.Parity;

/// <summary>The committed fixtures are present and complete (a regeneration that drops a tensor fails here, not in a parity test's confusing KeyNotFound).</summary>
public sealed class ParityFixtureTests
{
    public static TheoryData<string> Fixtures() => new(ParityFixture.All);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_has_weights_batch_log_prob_and_a_gradient_for_every_parameter(string name)
    {
        var fixture = ParityFixture.Load(name);
        Assert.Equal(fixture.Batch * fixture.Features, fixture["x"].Length);
        Assert.Equal(fixture.Batch, fixture["log_prob"].Length);
        Assert.Equal(fixture["x"].Length, fixture["grad.x"].Length);
        Assert.Equal(fixture.ContextFeatures > 0, fixture.Has("context"));
        Assert.NotEmpty(fixture.ParameterNames);
        foreach (string p in fixture.ParameterNames)
            Assert.Equal(fixture[p].Length, fixture["grad." + p].Length);
        Assert.Equal(21, fixture["adam.losses"].Length);
        Assert.Equal(21, fixture["adamw.losses"].Length);
        // The loss is -mean(log p): the stored per-row log p and the loss agree.
        Assert.Equal(-fixture["log_prob"].Average(), fixture["adam.losses"][0], 4);
    }
}
