var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/", () => "FlashSale.Stock");
app.Run();

public partial class Program;
