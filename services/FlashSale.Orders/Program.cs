using FlashSale.Orders.Apis;
using FlashSale.Orders.Extensions;
using FlashSale.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddOrdersServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrdersApi();
app.MapPaymentApi();
app.MapOutboxAdminApi();
app.Run();

public partial class Program;
