var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/", () => "FlashSale.Users");
app.Run();

public partial class Program;
