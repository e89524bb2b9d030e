using FlashSale.Notifications.Apis;
using FlashSale.Notifications.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddNotificationsServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapNotificationsApi();
app.Run();

public partial class Program;
