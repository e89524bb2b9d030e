using FlashSale.Stock.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddStockServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapStockApi();
app.Run();

public partial class Program;
