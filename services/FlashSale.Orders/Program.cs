var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/", () => "FlashSale.Orders");
app.Run();

public partial class Program;
